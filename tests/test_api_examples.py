"""The unified API text's own examples, end to end through every installed vendor plugin's emulator."""

import attrs
import pytest

from reelay.demo import demo_environment
from reelay.models import NormalizationPolicy
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import running_gateway

TOKEN = "sk-api-examples"


def installed(vendor):
    return vendor in Registry.collect(make_plugin_manager()).vendors


@pytest.fixture
async def demo(tmp_path):
    async with demo_environment(
        port=0, generation_seconds=0.3, token=TOKEN, store_url=f"sqlite:///{tmp_path / 'r.db'}"
    ) as setup:
        yield setup


@pytest.mark.skipif(not installed("kling"), reason="reelay-kling is not installed")
async def test_kling_text_to_video_example(demo):
    async with running_gateway(demo.config, token=TOKEN) as gw:
        status, task = await gw.client.submit(
            model="kling-v1",
            prompt="A golden retriever running on the beach, with the camera smoothly tracking it",
            duration=5,
            size="1280x720",
            metadata={"style": "cinematic"},
        )
        assert status == 200, task
        assert task["status"] == "queued" and task["progress"] == 0 and task["model"] == "kling-v1"
        assert task["seconds"] == "5" and task["size"] == "16:9"
        stored = await gw.dispatcher.store.get(task["id"], with_request=True)
        assert stored.request.dropped_metadata == ("style",)  # Kling does not document it
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"
        code, _, data = await gw.client.content(task["id"])
        assert code == 200 and data[4:8] == b"ftyp"


@pytest.mark.skipif(not installed("kling"), reason="reelay-kling is not installed")
async def test_kling_image_to_video_example(demo):
    async with running_gateway(demo.config, token=TOKEN) as gw:
        status, task = await gw.client.submit(
            model="kling-v1",
            prompt="Make the person smile and wave",
            image="https://images.example/portrait.png",
            duration=5,
        )
        assert status == 200, task
        assert task["size"] is None  # image-to-video follows the image
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"


@pytest.mark.skipif(not installed("kling"), reason="reelay-kling is not installed")
async def test_kling_seven_seconds_becomes_five(demo):
    async with running_gateway(demo.config, token=TOKEN) as gw:
        status, task = await gw.client.submit(model="kling-v2-master", prompt="a fox", duration=7)
        assert status == 200, task
        assert task["seconds"] == "5"
        assert task["adjustments"] == [
            {"field": "duration", "requested": 7, "effective": 5, "reason": "nearest duration kling-v2-master offers"}
        ]


@pytest.mark.skipif(not installed("veo"), reason="reelay-veo is not installed")
async def test_veo_example_snaps_five_seconds_to_six(demo):
    async with running_gateway(demo.config, token=TOKEN) as gw:
        status, task = await gw.client.submit(
            model="veo-3", prompt="A red sports car driving through a rainy night city", seconds="5"
        )
        assert status == 200, task
        assert task["seconds"] == "6"
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"


@pytest.mark.skipif(not installed("veo"), reason="reelay-veo is not installed")
async def test_veo_example_under_the_strict_policy_lists_the_durations(demo):
    strict = tuple(attrs.evolve(c, normalization=NormalizationPolicy.STRICT) for c in demo.config.channels)
    async with running_gateway(attrs.evolve(demo.config, channels=strict), token=TOKEN) as gw:
        status, body = await gw.client.submit(
            model="veo-3", prompt="A red sports car driving through a rainy night city", seconds="5"
        )
        assert status == 400, body
        assert body["error"]["param"] == "seconds" and body["error"]["code"] == "value_not_allowed"
        assert "allowed values: 4, 6, 8" in body["error"]["message"]
