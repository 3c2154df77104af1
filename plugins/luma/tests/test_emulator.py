"""The Luma emulator: Luma's refusals in ``{"detail"}``, generations dreaming on a clock."""

from __future__ import annotations

import asyncio

import pytest

from reelay.emulation import EmulatorSettings, orientation, sample_clip
from reelay.testing import mp4_facts
from reelay_luma.emulator import DEMO_KEY, luma_app

BEARER = {"Authorization": f"Bearer {DEMO_KEY}"}
CREATE = "/dream-machine/v1/generations/video"


@pytest.fixture
async def dream(aiohttp_client):
    return await aiohttp_client(luma_app(EmulatorSettings(credentials={"api_key": DEMO_KEY}, generation_seconds=0.3)))


async def test_a_wrong_key_is_refused(dream):
    response = await dream.post(
        CREATE, json={"model": "ray-2", "prompt": "a fox"}, headers={"Authorization": "Bearer x"}
    )
    assert response.status == 401 and await response.json() == {"detail": "Invalid API key is provided"}


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"prompt": "a fox"}, 422, "model"),
        ({"model": "ray-9", "prompt": "a fox"}, 422, "model"),
        ({"model": "ray-2", "prompt": "a fox", "duration": 5}, 422, "duration"),
        ({"model": "ray-2", "prompt": "a fox", "duration": "7s"}, 422, "duration"),
        ({"model": "ray-2", "prompt": "a fox", "aspect_ratio": "2:1"}, 422, "aspect_ratio"),
        ({"model": "ray-2", "prompt": "a fox", "resolution": "8k"}, 422, "resolution"),
        ({"model": "ray-2"}, 400, "Prompt is required"),
        ({"model": "ray-2", "prompt": "hi"}, 400, "Prompt is too short, minimum length is 3 characters"),
        ({"model": "ray-2", "prompt": "a fox", "keyframes": {}}, 400, "No keyframes provided"),
        (
            {"model": "ray-2", "prompt": "a fox", "loop": True,
             "keyframes": {"frame1": {"type": "image", "url": "https://c.example/b.jpg"}}},
            400, "Loop is not supported for end frame",
        ),
        (
            {"model": "ray-2", "keyframes": {"frame0": {"type": "image", "url": "data:image/png;base64,AAAA"}}},
            422, "keyframes.frame0.url",
        ),
    ],
)  # fmt: skip
async def test_refusals(dream, body, status, detail):
    response = await dream.post(CREATE, json=body, headers=BEARER)
    answer = (await response.json())["detail"]
    assert response.status == status
    assert answer == detail if isinstance(answer, str) else ".".join(answer[0]["loc"][1:]) == detail


async def test_a_generation_dreams_then_completes_and_can_be_deleted(dream):
    created = await dream.post(CREATE, json={"model": "ray-2", "prompt": "a fox", "duration": "9s"}, headers=BEARER)
    generation = await created.json()
    assert created.status == 201 and generation["state"] == "queued"
    states = []
    for _ in range(100):
        generation = await (await dream.get(f"/dream-machine/v1/generations/{generation['id']}", headers=BEARER)).json()
        states.append(generation["state"])
        if generation["state"] == "completed":
            break
        await asyncio.sleep(0.01)
    assert "dreaming" in states and states[-1] == "completed"
    video = await dream.get("/cdn/" + generation["assets"]["video"].split("/cdn/", 1)[1])  # no auth on the CDN
    assert video.status == 200 and (await video.read())[4:8] == b"ftyp"
    assert (await dream.delete(f"/dream-machine/v1/generations/{generation['id']}", headers=BEARER)).status == 204
    assert (await dream.get(f"/dream-machine/v1/generations/{generation['id']}", headers=BEARER)).status == 404


@pytest.mark.parametrize(
    ("fields", "clip_seconds", "ratio", "shape"),
    [
        ({"duration": "9s", "aspect_ratio": "9:16"}, 10, (9, 16), "portrait"),  # 9 s: the nearest clip, the longer
        ({"aspect_ratio": "1:1"}, 5, (1, 1), "square"),  # Luma's default 5 s
        ({}, 5, (16, 9), "landscape"),  # and 16:9
    ],
)
async def test_the_video_has_the_asked_duration_and_orientation(dream, fields, clip_seconds, ratio, shape):
    body = {"model": "ray-2", "prompt": "a fox", **fields}
    generation = await (await dream.post(CREATE, json=body, headers=BEARER)).json()
    for _ in range(100):
        generation = await (await dream.get(f"/dream-machine/v1/generations/{generation['id']}", headers=BEARER)).json()
        if generation["state"] == "completed":
            break
        await asyncio.sleep(0.01)
    video = await (await dream.get("/cdn/" + generation["assets"]["video"].split("/cdn/", 1)[1])).read()
    assert video == sample_clip(clip_seconds, *ratio)
    duration, width, height = mp4_facts(video)
    assert duration == pytest.approx(clip_seconds, abs=0.05) and orientation(width, height) == shape
