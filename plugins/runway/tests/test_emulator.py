"""The Runway emulator refuses what Runway refuses, in Runway's shape, and advances tasks over time."""

from __future__ import annotations

import asyncio

import pytest

from reelay.emulation import EmulatorSettings, orientation, sample_clip
from reelay.testing import mp4_facts
from reelay_runway.emulator import DEMO_CREDENTIALS, create_app

AUTH = {"Authorization": f"Bearer {DEMO_CREDENTIALS['api_key']}", "X-Runway-Version": "2024-11-06"}
GEN45 = {"model": "gen4.5", "promptText": "a fox", "ratio": "1280:720", "duration": 5}


@pytest.fixture
async def runway(aiohttp_client):
    return await aiohttp_client(create_app(EmulatorSettings(credentials=DEMO_CREDENTIALS, generation_seconds=0.4)))


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong", "X-Runway-Version": "2024-11-06"}, 401),
     ({"Authorization": AUTH["Authorization"]}, 400), ({**AUTH, "X-Runway-Version": "2023-01-01"}, 400)],
)  # fmt: skip
async def test_auth_and_version_are_checked(runway, headers, status):
    response = await runway.post("/v1/text_to_video", json=GEN45, headers=headers)
    assert response.status == status and "error" in await response.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/text_to_video", {**GEN45, "ratio": "960:960"}, "ratio"),  # gen4.5 text-to-video: two ratios
        ("/v1/text_to_video", {**GEN45, "duration": 11}, "duration"),
        ("/v1/text_to_video", {**GEN45, "model": "gen3a_turbo"}, "model"),
        ("/v1/text_to_video", {**GEN45, "model": "gen4_turbo"}, "model"),  # image only
        ("/v1/text_to_video", {k: v for k, v in GEN45.items() if k != "promptText"}, "promptText"),
        ("/v1/text_to_video", {**GEN45, "watermark": False}, "watermark"),
        ("/v1/image_to_video", {**GEN45, "model": "veo3.1", "ratio": "1920:1080", "duration": 5}, "duration"),
        ("/v1/image_to_video", {**GEN45}, "promptImage"),
        ("/v1/image_to_video", {**GEN45, "promptImage": "http://x.example/a.png"}, "promptImage"),
        ("/v1/image_to_video", {**GEN45, "promptImage": [{"uri": "https://x.example/a.png", "position": "last"}]},
         "promptImage"),
    ],
)  # fmt: skip
async def test_validation_refusals(runway, path, body, field):
    response = await runway.post(path, json=body, headers=AUTH)
    answer = await response.json()
    assert response.status == 400 and answer["error"] == "Validation of body failed"
    assert answer["issues"][0]["path"][0] == field


async def test_veo_takes_a_first_and_last_frame(runway):
    frames = [
        {"uri": "https://x.example/a.png", "position": "first"},
        {"uri": "https://x.example/b.png", "position": "last"},
    ]
    body = {"model": "veo3.1", "promptImage": frames, "ratio": "1080:1920", "duration": 6, "audio": False}
    response = await runway.post("/v1/image_to_video", json=body, headers=AUTH)
    assert response.status == 200


async def test_a_task_advances_to_a_signed_output_and_is_deleted(runway):
    task_id = (await (await runway.post("/v1/text_to_video", json=GEN45, headers=AUTH)).json())["id"]
    seen, task = [], {}
    while task.get("status") != "SUCCEEDED" and len(seen) < 100:
        await asyncio.sleep(0.01 if seen else 0)
        task = await (await runway.get(f"/v1/tasks/{task_id}", headers=AUTH)).json()
        seen.append(task["status"])
    assert {"PENDING", "RUNNING", "SUCCEEDED"} <= set(seen) or {"THROTTLED", "RUNNING", "SUCCEEDED"} <= set(seen)
    output = task["output"][0]
    assert "_jwt=" in output
    video = await runway.get(output.split(str(runway.server.make_url("")).rstrip("/"))[-1])
    assert video.status == 200 and (await video.read())[4:8] == b"ftyp"
    assert (await runway.delete(f"/v1/tasks/{task_id}", headers=AUTH)).status == 204
    assert (await runway.get(f"/v1/tasks/{task_id}", headers=AUTH)).status == 404


@pytest.mark.parametrize(
    ("body", "seconds", "shape"),
    [
        ({**GEN45, "ratio": "720:1280", "duration": 10}, 10, "portrait"),
        ({"model": "veo3.1", "promptText": "a fox", "ratio": "1080:1920"}, 8, "portrait"),  # veo3.1's default 8 s
    ],
)
async def test_the_output_has_the_asked_duration_and_orientation(runway, body, seconds, shape):
    task_id = (await (await runway.post("/v1/text_to_video", json=body, headers=AUTH)).json())["id"]
    task: dict = {}
    for _ in range(200):
        task = await (await runway.get(f"/v1/tasks/{task_id}", headers=AUTH)).json()
        if task["status"] == "SUCCEEDED":
            break
        await asyncio.sleep(0.01)
    output = task["output"][0]
    video = await (await runway.get(output.split(str(runway.server.make_url("")).rstrip("/"))[-1])).read()
    assert video == sample_clip(seconds, *map(int, body["ratio"].split(":")))
    duration, width, height = mp4_facts(video)
    assert duration == pytest.approx(seconds, abs=0.05) and orientation(width, height) == shape


async def test_delete_cancels_a_running_task(aiohttp_client):
    client = await aiohttp_client(create_app(EmulatorSettings(credentials=DEMO_CREDENTIALS, generation_seconds=30)))
    task_id = (await (await client.post("/v1/text_to_video", json=GEN45, headers=AUTH)).json())["id"]
    assert (await client.delete(f"/v1/tasks/{task_id}", headers=AUTH)).status == 204
    assert (await (await client.get(f"/v1/tasks/{task_id}", headers=AUTH)).json())["status"] == "CANCELLED"
