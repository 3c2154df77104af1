"""The openai SDK creates, polls and downloads a Hailuo video through the gateway's /v1/videos."""

from __future__ import annotations

import pytest

from reelay.emulation import sample_asset, serve_app
from reelay.testing import TEST_TOKEN, channel_for, gateway_config, running_gateway
from reelay_hailuo import plugin

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_videos_api_with_image_upload_and_image_url(pm, tmp_path):
    (spec,) = plugin.emulators
    emulator = spec.create_app(spec.settings(generation_seconds=0.2))
    async with serve_app(emulator) as emulator_url:
        config = gateway_config([channel_for(spec, emulator_url)], tmp_path)
        async with running_gateway(config, pm=pm) as gateway:
            sdk = openai.AsyncOpenAI(base_url=f"{gateway.base_url}/v1", api_key=TEST_TOKEN, max_retries=0)
            upload = ("cat.png", sample_asset("sample.png"), "image/png")
            first = await sdk.videos.create(model="MiniMax-Hailuo-2.3-Fast", prompt="run", input_reference=upload)
            finished = await sdk.videos.poll(first.id, poll_interval_ms=50)
            assert (finished.status, finished.seconds, finished.size) == ("completed", "6", "1366x768")
            content = (await sdk.videos.download_content(first.id)).content
            assert content == spec.settings().video_for(6, "1366x768")  # the task's duration and size
            linked = await sdk.videos.create(
                model="I2V-01", prompt="run", extra_body={"input_reference": {"image_url": "https://img.example/c.png"}}
            )
            assert (await sdk.videos.poll(linked.id, poll_interval_ms=50)).status == "completed"
            text = await sdk.videos.create(model="MiniMax-Hailuo-2.3", prompt="a fox", seconds="10", size="1366x768")
            assert (await sdk.videos.poll(text.id, poll_interval_ms=50)).seconds == "10"
            await sdk.close()
