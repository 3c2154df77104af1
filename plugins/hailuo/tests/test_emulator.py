"""The hooks against the Hailuo emulator on loopback: create, query, resolve the file, read the bytes."""

from __future__ import annotations

import asyncio

import pytest

from reelay import Channel, FailureKind, Task, TaskStatus, UnifiedRequest, UpstreamError
from reelay.emulation import orientation, sample_clip, serve_app
from reelay.normalize import normalize
from reelay.testing import mp4_facts, sample_image_data_uri
from reelay_hailuo import plugin
from reelay_hailuo.models import BY_NAME


@pytest.fixture
async def emulated():
    (spec,) = plugin.emulators
    async with serve_app(spec.create_app(spec.settings(generation_seconds=0.3))) as base_url:
        yield Channel(name="emu", vendor="hailuo", base_url=base_url, credentials=dict(spec.credentials))


async def run(pm, channel, http, **fields) -> tuple[Task, list]:
    unified = UnifiedRequest(**({"model": "MiniMax-Hailuo-2.3"} | fields))
    request = normalize(unified, BY_NAME[unified.model].spec)
    payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME[unified.model].spec, channel=channel)
    ref = await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)
    task = Task(id="video_h", owner="o", model=unified.model, vendor="hailuo", channel="emu", vendor_ref=ref)
    seen = []
    while not seen or not seen[-1].status.is_terminal:
        await asyncio.sleep(0.02)
        answer = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
        seen.append(pm.hook.reelay_map_status(payload=answer, task=task, channel=channel))
    task.result = seen[-1].result
    return task, seen


async def test_text_to_video_and_the_file(pm, emulated, http):
    task, seen = await run(pm, emulated, http, prompt="a fox", size="1920x1080")
    assert [u.status for u in seen][-1] is TaskStatus.COMPLETED
    source = await pm.hook.reelay_open_content(task=task, channel=emulated, http=http, variant="video")
    async with http.get(source.url, headers={"Range": "bytes=0-9"}) as response:
        assert response.status == 206 and await response.read() == sample_clip(6, 16, 9)[:10]  # 6 s by default


@pytest.mark.parametrize(("fields", "seconds"), [({"duration": 10}, 10), ({}, 6)])
async def test_the_file_has_the_asked_duration_and_its_size(pm, emulated, http, fields, seconds):
    task, seen = await run(pm, emulated, http, prompt="a fox", size="1366x768", **fields)
    assert seen[-1].status is TaskStatus.COMPLETED
    retrieve = f"{emulated.base_url}/v1/files/retrieve"
    auth = {"Authorization": f"Bearer {emulated.credentials['api_key']}"}
    async with http.get(retrieve, params={"file_id": task.result.extra["file_id"]}, headers=auth) as response:
        file = (await response.json())["file"]
    async with http.get(file["download_url"]) as response:
        video = await response.read()
    assert video == sample_clip(seconds, 16, 9) and file["bytes"] == len(video)  # the files API tells its length
    duration, width, height = mp4_facts(video)
    assert duration == pytest.approx(seconds, abs=0.05) and orientation(width, height) == "landscape"


@pytest.mark.parametrize(
    "fields",
    [
        {"model": "MiniMax-Hailuo-2.3-Fast", "image": sample_image_data_uri()},
        {"model": "I2V-01-live", "image": "https://img.example/cat.png"},
        {"model": "MiniMax-Hailuo-02", "images": (sample_image_data_uri(), "https://img.example/end.png")},
        {"model": "S2V-01", "prompt": "she waves", "image": "https://img.example/face.png"},
    ],
)
async def test_every_image_mode(pm, emulated, http, fields):
    assert (await run(pm, emulated, http, **fields))[1][-1].status is TaskStatus.COMPLETED


@pytest.mark.parametrize(
    "body",
    [
        {"model": "MiniMax-Hailuo-02", "prompt": "x", "duration": 10, "resolution": "1080P"},
        {"model": "MiniMax-Hailuo-02", "prompt": "x", "resolution": "512P"},
        {"model": "MiniMax-Hailuo-2.3-Fast", "prompt": "x"},
        {"model": "T2V-01", "prompt": "x", "resolution": "768P"},
        {"model": "T2V-01", "prompt": "x", "seconds": 6},
        {"model": "Hailuo-3", "prompt": "x"},
    ],
)
async def test_the_emulator_refuses_what_minimax_refuses(pm, emulated, http, body):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload=body, request=None, channel=emulated, http=http)
    assert caught.value.kind is FailureKind.CALLER and "invalid params" in caught.value.message


async def test_keys_are_checked(pm, emulated, http):
    for key in ("", "wrong"):
        channel = Channel(name="k", vendor="hailuo", base_url=emulated.base_url, credentials={"api_key": key})
        with pytest.raises(UpstreamError) as caught:
            await pm.hook.reelay_submit(payload={"model": "T2V-01"}, request=None, channel=channel, http=http)
        assert caught.value.kind is FailureKind.CHANNEL


async def test_blocked_output_is_a_content_policy_failure(pm, emulated, http):
    final = (await run(pm, emulated, http, prompt="x [emulate:block]"))[1][-1]
    assert final.status is TaskStatus.FAILED and final.error.code == "content_policy_violation"
