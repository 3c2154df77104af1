"""The plugin's hooks driving both emulators on loopback, from submission to the video's bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from reelay import Channel, FailureKind, Task, TaskStatus, UnifiedRequest, UpstreamError
from reelay.emulation import orientation, sample_clip, serve_app
from reelay.normalize import normalize
from reelay.plugins import Registry
from reelay.testing import mp4_facts, sample_image_data_uri


@pytest.fixture
def registry(pm):
    return Registry.collect(pm)


@pytest.fixture(params=["cn", "intl"])
async def channel(request, registry) -> AsyncIterator[Channel]:
    (spec,) = [e for e in registry.emulators if e.label == f"seedance-{request.param}"]
    async with serve_app(spec.create_app(spec.settings(generation_seconds=0.3))) as base_url:
        yield Channel(
            name="emu",
            vendor="seedance",
            base_url=base_url,
            credentials=dict(spec.credentials),
            options={"region": request.param},
        )


def _model(channel: Channel, family: str = "1-0-pro") -> str:
    return f"doubao-seedance-{family}-250528" if channel.options["region"] == "cn" else f"seedance-{family}-250528"


async def _submit(pm, registry, channel, http, **fields) -> Task:
    unified = UnifiedRequest(**({"model": _model(channel)} | fields))
    model = registry.model(unified.model)
    request = normalize(unified, model, public_id="video_e2e")
    payload = pm.hook.reelay_build_payload(request=request, model=model, channel=channel)
    ref = await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)
    return Task(id="video_e2e", owner="t", model=model.name, vendor="seedance", channel="emu", vendor_ref=ref)


async def _poll(pm, task, channel, http) -> list:
    updates = []
    for _ in range(200):
        payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
        updates.append(pm.hook.reelay_map_status(payload=payload, task=task, channel=channel))
        if updates[-1].status.is_terminal:
            return updates
        await asyncio.sleep(0.02)
    raise AssertionError("the task never finished")


async def test_text_to_video_to_bytes(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, prompt="a fox", duration=6, size="9:16")
    updates = await _poll(pm, task, channel, http)
    assert [u.status for u in updates][-1] is TaskStatus.COMPLETED
    task.result = updates[-1].result
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    async with http.get(source.url) as response:
        assert await response.read() == sample_clip(6, 9, 16)  # the asked duration and ratio


@pytest.mark.parametrize(
    ("fields", "seconds", "ratio", "shape"),
    [
        ({"duration": 10, "size": "9:16"}, 10, (9, 16), "portrait"),
        ({"duration": 12, "size": "1:1"}, 12, (1, 1), "square"),
        ({}, 5, (16, 9), "landscape"),  # no ratio sent: Ark's 16:9, and its 5 s
        ({"image": "https://img.example/frame.png", "duration": 4}, 4, (16, 9), "landscape"),  # adaptive: 16:9
    ],
)
async def test_the_video_has_the_asked_duration_and_orientation(
    pm, registry, channel, http, fields, seconds, ratio, shape
):
    task = await _submit(pm, registry, channel, http, prompt="a fox", **fields)
    updates = await _poll(pm, task, channel, http)
    assert updates[-1].status is TaskStatus.COMPLETED
    task.result = updates[-1].result
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    async with http.get(source.url) as response:
        video = await response.read()
    assert video == sample_clip(seconds, *ratio)
    duration, width, height = mp4_facts(video)
    assert duration == pytest.approx(seconds, abs=0.05) and orientation(width, height) == shape


@pytest.mark.parametrize("image", [sample_image_data_uri(), "https://img.example/frame.png"])
async def test_image_to_video_by_data_uri_and_by_url(pm, registry, channel, http, image):
    task = await _submit(pm, registry, channel, http, prompt="move", image=image)
    assert (await _poll(pm, task, channel, http))[-1].status is TaskStatus.COMPLETED


async def test_first_and_last_frame(pm, registry, channel, http):
    images = (sample_image_data_uri(), "https://img.example/last.png")
    task = await _submit(pm, registry, channel, http, prompt="move", images=images)
    assert (await _poll(pm, task, channel, http))[-1].status is TaskStatus.COMPLETED


async def test_the_emulator_refuses_a_model_of_the_other_region(pm, registry, channel, http):
    other = "seedance-1-0-pro-250528" if channel.options["region"] == "cn" else "doubao-seedance-1-0-pro-250528"
    payload = {"model": other, "content": [{"type": "text", "text": "x"}]}
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload=payload, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.CHANNEL


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"resolution": "4k"}, "resolution"),
        ({"duration": 13}, "duration"),
        ({"ratio": "adaptive"}, "ratio"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
async def test_the_emulator_refuses_what_ark_refuses(pm, channel, http, extra, param):
    payload = {"model": _model(channel), "content": [{"type": "text", "text": "x"}], **extra}
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload=payload, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER and caught.value.param == param


async def test_the_emulator_refuses_mixed_modes(pm, channel, http):
    image = {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}
    content = [{**image, "role": "first_frame"}, {**image, "role": "reference_image"}]
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(
            payload={"model": _model(channel), "content": content}, request=None, channel=channel, http=http
        )
    assert "cannot be mixed" in caught.value.message


async def test_cancel_a_queued_task(pm, registry, channel, http):
    (spec,) = [e for e in registry.emulators if e.label == f"seedance-{channel.options['region']}"]
    async with serve_app(spec.create_app(spec.settings(generation_seconds=30))) as base_url:
        slow = Channel(
            name="slow",
            vendor="seedance",
            base_url=base_url,
            credentials=dict(spec.credentials),
            options=channel.options,
        )
        task = await _submit(pm, registry, slow, http, prompt="a fox")
        await pm.hook.reelay_cancel(task=task, channel=slow, http=http)
        payload = await pm.hook.reelay_fetch_status(task=task, channel=slow, http=http)
        assert pm.hook.reelay_map_status(payload=payload, task=task, channel=slow).status is TaskStatus.CANCELLED


async def test_a_wrong_key_is_the_channels_fault(pm, registry, channel, http):
    wrong = Channel(
        name="w",
        vendor="seedance",
        base_url=channel.base_url,
        credentials={"api_key": "nope-key"},
        options=channel.options,
    )
    with pytest.raises(UpstreamError) as caught:
        await _submit(pm, registry, wrong, http, prompt="a fox")
    assert caught.value.kind is FailureKind.CHANNEL and "nope-key" not in caught.value.message
