"""The hooks against the DashScope emulators on loopback, and what the emulator refuses."""

from __future__ import annotations

import asyncio

import pytest

from reelay import Channel, FailureKind, Task, TaskStatus, UnifiedRequest, UpstreamError
from reelay.emulation import orientation, sample_clip, serve_app
from reelay.normalize import normalize
from reelay.testing import mp4_facts, sample_image_data_uri
from reelay_wan import plugin
from reelay_wan.models import BY_NAME


@pytest.fixture
async def intl():
    spec = next(e for e in plugin.emulators if e.label == "wan-intl")
    async with serve_app(spec.create_app(spec.settings(generation_seconds=0.3))) as url:
        yield Channel(
            name="i", vendor="wan", base_url=url, credentials=dict(spec.credentials), options={"region": "intl"}
        )


async def generate(pm, channel, http, model, **fields):
    request = normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec)
    body = pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=channel)
    task = Task(id="v", owner="o", model=model, vendor="wan", channel=channel.name)
    task.vendor_ref = await pm.hook.reelay_submit(payload=body, request=request, channel=channel, http=http)
    for _ in range(300):
        update = pm.hook.reelay_map_status(
            payload=await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http), task=task, channel=channel
        )
        if update.status.is_terminal:
            task.result = update.result
            return task, update
        await asyncio.sleep(0.02)
    raise AssertionError("never finished")


async def test_text_to_video_bytes(pm, intl, http):
    task, update = await generate(pm, intl, http, "wan2.6-t2v", prompt="a cat", size="1080x1920", duration=15)
    assert update.status is TaskStatus.COMPLETED and update.result.duration == 15.0
    source = await pm.hook.reelay_open_content(task=task, channel=intl, http=http, variant="video")
    async with http.get(source.url) as response:
        assert await response.read() == sample_clip(15, 1080, 1920)  # the longest clip, portrait


@pytest.mark.parametrize(
    ("model", "fields", "seconds", "ratio", "shape"),
    [
        ("wan2.6-t2v", {"size": "720x1280", "duration": 10}, 10, (9, 16), "portrait"),
        ("wan2.6-t2v", {"size": "1440x1440", "duration": 7}, 7, (1, 1), "square"),
        ("wan2.2-t2v-plus", {}, 5, (16, 9), "landscape"),  # DashScope's defaults: 5 s, 1920*1080
    ],
)
async def test_the_video_has_the_asked_duration_and_orientation(pm, intl, http, model, fields, seconds, ratio, shape):
    task, update = await generate(pm, intl, http, model, prompt="a cat", **fields)
    assert update.status is TaskStatus.COMPLETED
    source = await pm.hook.reelay_open_content(task=task, channel=intl, http=http, variant="video")
    async with http.get(source.url) as response:
        video = await response.read()
    assert video == sample_clip(seconds, *ratio)
    duration, width, height = mp4_facts(video)
    assert duration == pytest.approx(seconds, abs=0.05) and orientation(width, height) == shape


@pytest.mark.parametrize("image", [sample_image_data_uri(), "https://img.example/cat.png"])
async def test_first_frame_by_data_uri_and_url(pm, intl, http, image):
    assert (await generate(pm, intl, http, "wan2.1-i2v-turbo", image=image, duration=3))[
        1
    ].status is TaskStatus.COMPLETED


async def test_first_and_last_frame_on_their_own_path(pm, intl, http):
    images = (sample_image_data_uri(), "https://img.example/end.png")
    assert (await generate(pm, intl, http, "wan2.1-kf2v-plus", prompt="turn", images=images))[
        1
    ].status is TaskStatus.COMPLETED


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"model": "wanx2.1-t2v-plus", "input": {"prompt": "x"}}, "Model not exist"),
        ({"model": "wan2.2-t2v-plus", "input": {"prompt": "x"}, "parameters": {"size": "1280*720"}}, "size must be in"),
        ({"model": "wan2.2-t2v-plus", "input": {"prompt": "x"}, "parameters": {"duration": 10}}, "duration"),
        (
            {"model": "wan2.6-i2v", "input": {"img_url": "https://i.example/a"}, "parameters": {"resolution": "480P"}},
            "resolution",
        ),
        ({"model": "wan2.6-i2v", "input": {"prompt": "x"}}, "img_url is required"),
    ],
)
async def test_the_emulator_refuses_what_dashscope_refuses(pm, intl, http, body, reason):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={"parameters": {}, **body}, request=None, channel=intl, http=http)
    assert caught.value.kind is FailureKind.CALLER and reason in caught.value.message


async def test_cancel_while_pending_then_refused(pm, http):
    spec = next(e for e in plugin.emulators if e.label == "wan-cn")
    async with serve_app(spec.create_app(spec.settings(generation_seconds=60))) as url:
        cn = Channel(name="c", vendor="wan", base_url=url, credentials=dict(spec.credentials), options={"region": "cn"})
        request = normalize(UnifiedRequest(model="wanx2.1-t2v-plus", prompt="x"), BY_NAME["wanx2.1-t2v-plus"].spec)
        body = pm.hook.reelay_build_payload(request=request, model=BY_NAME["wanx2.1-t2v-plus"].spec, channel=cn)
        task = Task(id="v", owner="o", model="wanx2.1-t2v-plus", vendor="wan", channel="c")
        task.vendor_ref = await pm.hook.reelay_submit(payload=body, request=request, channel=cn, http=http)
        await pm.hook.reelay_cancel(task=task, channel=cn, http=http)
        status = await pm.hook.reelay_fetch_status(task=task, channel=cn, http=http)
        assert pm.hook.reelay_map_status(payload=status, task=task, channel=cn).status is TaskStatus.CANCELLED
        with pytest.raises(UpstreamError):
            await pm.hook.reelay_cancel(task=task, channel=cn, http=http)


async def test_a_bad_key(pm, intl, http):
    wrong = Channel(name="w", vendor="wan", base_url=intl.base_url, credentials={"api_key": "sk-wrong"})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(
            payload={"input": {}, "model": "wan2.6-t2v"}, request=None, channel=wrong, http=http
        )
    assert caught.value.kind is FailureKind.CHANNEL
