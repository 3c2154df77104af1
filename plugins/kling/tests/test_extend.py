"""Video extension (``POST /v1/videos/video-extend``) against recorded Kling answers (aioresponses)."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from yarl import URL

from reelay import FailureKind, InvalidRequest, SourceVideo, Task, TaskStatus, UpstreamError, VendorRef, VideoResult
from reelay_kling import wire
from reelay_kling.models import BY_NAME, EXTEND_MODELS

BASE = "https://kling.test"
EXTEND = f"{BASE}/v1/videos/video-extend"
T2V = f"{BASE}/v1/videos/text2video"
VIDEO_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def source_task(*, video_id: str | None = VIDEO_ID, duration: float = 5.1, created_at: float | None = None) -> Task:
    extra = {"kling_task_id": "831922345719271433"} | ({"kling_video_id": video_id} if video_id else {})
    return Task(
        id="video_source1",
        owner="alice",
        model="kling-v1",
        vendor="kling",
        channel="kling-test",
        created_at=time.time() if created_at is None else created_at,
        seconds=5,
        status=TaskStatus.COMPLETED,
        vendor_ref=VendorRef("831922345719271433", {"family": "text2video"}),
        result=VideoResult(url="https://cdn.test/v.mp4", duration=duration, extra=extra),
    )


def extend(pm, channel, http, source: SourceVideo, prompt: str = "the fox runs off", seconds: int = 5):
    return pm.hook.reelay_extend(source=source, prompt=prompt, seconds=seconds, channel=channel, http=http)


def sent_body(mocked, url: str, index: int = 0) -> dict:
    """The JSON body of a recorded POST, however the core's HTTP helper passed it."""
    kwargs = mocked.requests[("POST", URL(url))][index].kwargs
    if kwargs.get("json") is not None:
        return kwargs["json"]
    data = kwargs["data"]
    return json.loads(data.getvalue() if hasattr(data, "getvalue") else data)


def test_only_kling_v1_and_v1_6_extend_by_five_seconds():
    assert EXTEND_MODELS == ("kling-v1", "kling-v1-6")
    for name, model in BY_NAME.items():
        capabilities = model.spec.capabilities
        assert capabilities.extend is (name in EXTEND_MODELS)
        assert capabilities.extension_seconds == ((5,) if capabilities.extend else ())
    assert BY_NAME["kling-v1-5"].spec.capabilities.extend is False  # Kling: "not supported for V1.5 videos"


async def test_extend_posts_the_video_id_on_the_video_extend_family(mocked, pm, channel, http, load_fixture):
    mocked.post(EXTEND, payload=load_fixture("kling-create"))
    ref = await extend(pm, channel, http, SourceVideo(task=source_task()))
    assert ref == VendorRef("831922345719271433", {"family": "video-extend"})
    # Kling's documented fields only: model, mode and length follow the source video.
    assert sent_body(mocked, EXTEND) == {"video_id": VIDEO_ID, "prompt": "the fox runs off"}
    assert mocked.requests[("POST", URL(EXTEND))][0].kwargs["headers"]["Authorization"].startswith("Bearer ")


async def test_extend_asks_kling_for_the_video_id_when_it_was_not_kept(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{T2V}/831922345719271433", payload=load_fixture("kling-succeed"))
    mocked.post(EXTEND, payload=load_fixture("kling-create"))
    await extend(pm, channel, http, SourceVideo(task=source_task(video_id=None)))
    assert (
        sent_body(mocked, EXTEND)["video_id"] == load_fixture("kling-succeed")["data"]["task_result"]["videos"][0]["id"]
    )


async def test_extension_status_is_read_on_the_video_extend_family(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{EXTEND}/842013456821370881", payload=load_fixture("kling-extend-succeed"))
    task = source_task()
    task.vendor_ref = VendorRef("842013456821370881", {"family": "video-extend"})
    payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    update = pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
    assert update.status is TaskStatus.COMPLETED
    assert update.result.duration == 9.9  # the whole extended video
    assert update.result.extra["kling_video_id"] == "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e"


@pytest.mark.parametrize(
    ("source", "prompt", "param"),
    [
        (SourceVideo(data=b"\0\0\0\x18ftypmp42", filename="a.mp4", mime_type="video/mp4"), "more", "video"),
        (SourceVideo(task=source_task()), "x" * 2501, "prompt"),
        (SourceVideo(task=source_task(duration=176.0)), "more", "video"),
        (SourceVideo(task=source_task(created_at=time.time() - 31 * 86400)), "more", "video"),
    ],
    ids=["an-upload", "prompt-too-long", "past-three-minutes", "deleted-after-30-days"],
)
async def test_what_kling_refuses_is_refused_before_sending(mocked, pm, channel, http, source, prompt, param):
    with pytest.raises(InvalidRequest) as caught:
        await extend(pm, channel, http, source, prompt=prompt)
    assert caught.value.param == param
    assert not mocked.requests


async def test_kling_refusing_the_video_is_the_callers_error(mocked, pm, channel, http):
    body = {"code": 1201, "message": "video_id does not belong to this account", "request_id": "r"}
    mocked.post(EXTEND, status=400, payload=body)
    with pytest.raises(UpstreamError) as caught:
        await extend(pm, channel, http, SourceVideo(task=source_task()))
    assert caught.value.kind is FailureKind.CALLER
    assert "does not belong" in caught.value.message


async def test_a_source_kling_no_longer_has_is_gone(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{T2V}/831922345719271433", payload=load_fixture("kling-succeed-no-video"))
    with pytest.raises(UpstreamError) as caught:
        await extend(pm, channel, http, SourceVideo(task=source_task(video_id=None)))
    assert caught.value.kind is FailureKind.NOT_FOUND
    assert not mocked.requests.get(("POST", URL(EXTEND)))


def test_extend_body_keeps_only_documented_fields():
    body = wire.extend_body("vid", "", negative_prompt="blur", cfg_scale=0.3, callback_url="https://cb.test/k")
    assert body == {"video_id": "vid", "negative_prompt": "blur", "cfg_scale": 0.3, "callback_url": "https://cb.test/k"}
    with pytest.raises(InvalidRequest) as caught:
        wire.extend_body("vid", "p", cfg_scale=1.5)
    assert caught.value.param == "cfg_scale"
    with pytest.raises(InvalidRequest) as caught:
        wire.extend_body("vid", "p", negative_prompt="n" * 2501)
    assert caught.value.param == "negative_prompt"
