"""The official openai SDK drives Seedance models through the gateway's /v1/videos."""

from __future__ import annotations

import pytest

from reelay.emulation import sample_asset, serve_app
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, channel_for, gateway_config, running_gateway

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "doubao-seedance-1-0-pro-250528"


async def test_create_with_an_image_poll_and_download(pm, tmp_path):
    (spec,) = [e for e in Registry.collect(pm).emulators if e.label == "seedance-cn"]
    settings = spec.settings(generation_seconds=0.3)
    async with (
        serve_app(spec.create_app(settings)) as url,
        running_gateway(gateway_config([channel_for(spec, url)], tmp_path), pm=pm) as gw,
    ):
        client = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)
        video = await client.videos.create(
            model=MODEL,
            prompt="make it move",
            seconds="4",
            input_reference=("a.png", sample_asset("sample.png"), "image/png"),
        )
        done = await client.videos.poll(video.id, poll_interval_ms=50)
        assert done.status == "completed" and done.seconds == "4"
        content = (await client.videos.download_content(video.id)).content
        assert content == settings.video_for(4, "16:9")  # 4 s; an image's ratio is adaptive, served as 16:9
        by_url = await client.videos.create(
            model=MODEL,
            prompt="from a url",
            extra_body={"input_reference": {"image_url": "https://img.example/a.png"}},
        )
        assert (await client.videos.poll(by_url.id, poll_interval_ms=50)).status == "completed"
        with pytest.raises(openai.BadRequestError):
            await client.videos.create(model=MODEL, prompt="x", extra_body={"metadata": {"resolution": "8k"}})
        await client.close()
