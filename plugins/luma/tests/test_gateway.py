"""The Luma emulator behind a real gateway: the openai SDK, keyframes by URL, cancel by DELETE."""

from __future__ import annotations

import contextlib

import pytest

from reelay.emulation import serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import TEST_TOKEN, channel_for, running_gateway, sample_image_data_uri
from reelay.testing import gateway_config as luma_config
from reelay_luma import LumaPlugin

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@contextlib.asynccontextmanager
async def luma_gateway(workdir, generation_seconds):
    pm = make_plugin_manager(load_entry_points=False, plugins=[LumaPlugin()])
    emulator = Registry.collect(pm).emulators[0]
    app = emulator.create_app(emulator.settings(generation_seconds=generation_seconds))
    async with (
        serve_app(app) as emulator_url,
        running_gateway(luma_config([channel_for(emulator, emulator_url, name="luma-emu")], workdir), pm=pm) as running,
    ):
        yield running, emulator


async def test_openai_sdk_drives_ray_flash_2(tmp_path):
    async with luma_gateway(tmp_path, 0.4) as (running, emulator):
        sdk = openai.AsyncOpenAI(base_url=running.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)
        created = await sdk.videos.create(model="ray-flash-2", prompt="a heron at dawn", seconds="8", size="16:9")
        finished = await sdk.videos.poll(created.id, poll_interval_ms=50)
        assert finished.status == "completed" and finished.seconds == "9"  # 8 s snaps to Luma's 9 s
        content = (await sdk.videos.download_content(created.id)).content
        assert content == emulator.settings().video_for(9, "16:9")  # the task's duration and ratio
        await sdk.close()


async def test_keyframes_by_url_complete(tmp_path):
    async with luma_gateway(tmp_path, 0.3) as (running, _):
        status, task = await running.client.submit(
            model="ray-2", prompt="morph", image="https://cdn.example/a.jpg", images=["https://cdn.example/b.jpg"]
        )
        assert status == 200, task
        final, _seen = await running.client.wait(task["id"])
        assert final["status"] == "completed"


async def test_an_inline_image_is_a_400_naming_the_field(tmp_path):
    async with luma_gateway(tmp_path, 0.3) as (running, _):
        status, body = await running.client.submit(model="ray-2", prompt="move", image=sample_image_data_uri())
        assert status == 400 and body["error"]["param"] == "image"


async def test_cancel_deletes_the_generation(tmp_path):
    async with luma_gateway(tmp_path, 30) as (running, _):
        _, task = await running.client.submit(model="ray-2", prompt="a long dream")
        status, body = await running.client.request("POST", f"/v1/videos/{task['id']}/cancel")
        assert status == 200 and body["status"] == "cancelled", body
