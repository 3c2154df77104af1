"""/v1/videos through the openai SDK, with a Wan image-to-video model behind the gateway."""

from __future__ import annotations

import pytest

from reelay.emulation import sample_asset, serve_app
from reelay.testing import TEST_TOKEN, channel_for, gateway_config, running_gateway
from reelay_wan import plugin

openai = pytest.importorskip("openai")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_sdk_round_trip(pm, tmp_path):
    spec = next(e for e in plugin.emulators if e.label == "wan-intl")
    async with (
        serve_app(spec.create_app(spec.settings(generation_seconds=0.2))) as upstream,
        running_gateway(gateway_config([channel_for(spec, upstream)], tmp_path), pm=pm) as gw,
    ):
        sdk = openai.AsyncOpenAI(base_url=gw.base_url + "/v1", api_key=TEST_TOKEN, max_retries=0)
        videos = sdk.videos
        made = await videos.create(
            model="wan2.5-i2v-preview",
            prompt="wave",
            input_reference=("f.png", sample_asset("sample.png"), "image/png"),
        )
        assert (await videos.poll(made.id, poll_interval_ms=50)).status == "completed"
        # DashScope's default 5 s; image-to-video sends no size, so the clip is landscape
        assert (await videos.download_content(made.id)).content == spec.settings().video_for(5, None)
        url_made = await videos.create(
            model="wan2.6-i2v",
            prompt="wave",
            extra_body={"input_reference": {"image_url": "https://img.example/f.png"}},
        )
        assert (await videos.poll(url_made.id, poll_interval_ms=50)).status == "completed"
        text = await videos.create(model="wan2.6-t2v", prompt="a cat", seconds="12", size="1280x720")
        done = await videos.poll(text.id, poll_interval_ms=50)
        assert (done.status, done.seconds, done.size) == ("completed", "12", "1280x720")
        await sdk.close()
