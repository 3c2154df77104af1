"""A real gateway on loopback in front of the Runway emulator, driven by the official openai SDK."""

from __future__ import annotations

import contextlib

import pytest

from reelay import NormalizationPolicy
from reelay.emulation import serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import TEST_TOKEN, channel_for, running_gateway
from reelay.testing import gateway_config as config_for
from reelay_runway import RunwayPlugin

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK deprecates its Videos methods


@contextlib.asynccontextmanager
async def gateway(tmp_path, seconds: float, **channel):
    pm = make_plugin_manager(load_entry_points=False, plugins=[RunwayPlugin()])
    (spec,) = Registry.collect(pm).emulators
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve_app(spec.create_app(spec.settings(generation_seconds=seconds))))
        gw = await stack.enter_async_context(
            running_gateway(config_for([channel_for(spec, url, **channel)], tmp_path), pm=pm)
        )
        client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)
        yield gw, client, spec
        await client.close()


async def test_openai_sdk_creates_polls_and_downloads_gen45(tmp_path):
    async with gateway(tmp_path, 0.4) as (_, client, spec):
        video = await client.videos.create(model="gen4.5", prompt="a red fox", seconds="4", size="720x1280")
        done = await client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed" and done.seconds == "4" and done.size == "720:1280"
        content = (await client.videos.download_content(video.id)).content
        assert content == spec.settings().video_for(4, "720:1280")  # the asked duration and orientation


async def test_openai_sdk_refusal_names_the_ratio(tmp_path):
    # gen4.5 text-to-video takes two ratios only (its per-input rules): strict mode refuses 960x960 in the core
    async with gateway(tmp_path, 0.4, normalization=NormalizationPolicy.STRICT) as (_, client, _spec):
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.create(model="gen4.5", prompt="a red fox", size="960x960")
        body = caught.value.body
        assert body["param"] == "size" and body["code"] == "value_not_allowed", body
        assert "1280:720" in body["message"] and "1104:832" not in body["message"]


async def test_cancel_reaches_runway(tmp_path):
    async with gateway(tmp_path, 30) as (gw, _client, _spec):
        status, task = await gw.client.submit(model="veo3.1_fast", prompt="a slow fox")
        assert status == 200, task
        status, body = await gw.client.request("POST", f"/v1/videos/{task['id']}/cancel")
        assert status == 200 and body["status"] == "cancelled", body
