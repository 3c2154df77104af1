"""Luma calls back: ``callback_url`` in the create body, the Generation read as a poll's answer, end to end."""

from __future__ import annotations

import asyncio
import json

import attrs
import pytest
from yarl import URL

import reelay_luma
from reelay import TaskStatus, UnifiedRequest
from reelay.emulation import EmulatorSettings, serve_app
from reelay.normalize import normalize
from reelay.testing import callback_receiver, check_callbacks_end_tasks, check_foreign_callbacks_change_nothing
from reelay_luma.emulator import DEMO_KEY, DREAMS, luma_app
from reelay_luma.models import MODELS
from reelay_luma.wire import parse_callback

CALLBACK = "https://gateway.example/v1/callbacks/luma/tok"
CREATE = "https://luma.test/dream-machine/v1/generations/video"
SPEC = MODELS[0]


def _request(callback_url: str | None):
    request = normalize(UnifiedRequest(model=SPEC.name, prompt="a fox"), SPEC, public_id="video_luma1")
    return attrs.evolve(request, callback_url=callback_url)


@pytest.mark.parametrize("callback_url", [CALLBACK, None])
async def test_callback_url_is_sent_only_when_the_core_gives_one(luma_pm, luma_channel, http, mocked, callback_url):
    request = _request(callback_url)
    payload = luma_pm.hook.reelay_build_payload(request=request, model=SPEC, channel=luma_channel)
    mocked.post(CREATE, status=201, payload={"id": "g1", "state": "queued"})
    await luma_pm.hook.reelay_submit(payload=payload, request=request, channel=luma_channel, http=http)
    sent = json.loads(mocked.requests[("POST", URL(CREATE))][0].kwargs["data"])
    assert sent.get("callback_url") == callback_url and ("callback_url" in sent) == (callback_url is not None)


def test_a_caller_cannot_set_callback_url_through_metadata(payload_for):
    assert "callback_url" not in payload_for("ray-2", prompt="a fox", metadata={"callback_url": "https://x.example"})


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("luma-queued", TaskStatus.QUEUED),
        ("luma-dreaming", TaskStatus.IN_PROGRESS),
        ("luma-completed", TaskStatus.COMPLETED),
        ("luma-failed", TaskStatus.FAILED),
    ],
)
def test_a_generation_posted_back_is_read_as_a_poll_reads_it(
    luma_pm, luma_channel, load_fixture, generation_task, fixture, status
):
    body = json.dumps(load_fixture(fixture)).encode()
    update = luma_pm.hook.reelay_parse_callback(body=body, headers={}, task=generation_task, channel=luma_channel)
    polled = luma_pm.hook.reelay_map_status(payload=load_fixture(fixture), task=generation_task, channel=luma_channel)
    assert update == polled and update.status is status


def test_the_completed_callback_carries_the_video(load_fixture, generation_task):
    update = parse_callback(json.dumps(load_fixture("luma-completed")).encode(), generation_task)
    assert update.result.url.endswith("/video.mp4") and update.result.extra["thumbnail_url"].endswith("/thumb.jpg")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "another-generation", "state": "dreaming"}',
        b"not json",
        b'{"id": "3f0a5d2e-8c1b-4e7a-9d3f-1b2c3d4e5f60", "state": "pondering"}',  # a state Luma does not document
    ],
)
def test_another_generations_body_unreadable_json_and_unknown_states_are_refused(generation_task, body):
    assert parse_callback(body, generation_task) is None


async def test_a_luma_task_completes_at_once_on_the_callback_with_fewer_polls(tmp_path):
    await check_callbacks_end_tasks(reelay_luma.plugin, tmp_path, DREAMS, "completed", model="ray-2", prompt="a fox")


async def test_bad_callbacks_on_the_real_route_are_json_400s_and_change_nothing(tmp_path):
    foreign = {"id": "another-generation", "state": "completed"}
    await check_foreign_callbacks_change_nothing(
        reelay_luma.plugin, tmp_path, DREAMS, foreign, model="ray-2", prompt="a fox"
    )


# ---------------------------------------------------------------- the emulator's sender


async def _create(dream, body):
    response = await dream.post(
        "/dream-machine/v1/generations/video", json=body, headers={"Authorization": f"Bearer {DEMO_KEY}"}
    )
    return response.status, await response.json()


@pytest.fixture
async def dream(aiohttp_client):
    return await aiohttp_client(luma_app(EmulatorSettings(credentials={"api_key": DEMO_KEY}, generation_seconds=0.3)))


async def test_the_emulator_posts_the_generation_and_retries_a_refusal_three_times_100_ms_apart(dream):
    receiver, received = callback_receiver([500] * 5)  # dreaming: refused 4 times (1 + 3 retries)
    async with serve_app(receiver) as base:
        status, created = await _create(dream, {"model": "ray-2", "prompt": "a fox", "callback_url": f"{base}/cb"})
        assert status == 201
        await asyncio.sleep(1.0)
    sent = dream.app[DREAMS].callbacks.sent
    assert [(one.status, one.answer) for one in sent] == [("dreaming", 500)] * 4 + [
        ("completed", 500),
        ("completed", 200),
    ]
    assert sent[1].at - sent[0].at >= 0.1
    assert received[-1]["id"] == created["id"] and received[-1]["assets"]["video"].endswith("/video.mp4")


async def test_a_deleted_generation_calls_back_no_more(dream):
    receiver, received = callback_receiver()
    async with serve_app(receiver) as base:
        _, created = await _create(dream, {"model": "ray-2", "prompt": "a fox", "callback_url": f"{base}/cb"})
        await asyncio.sleep(0.15)  # dreaming posted
        await dream.delete(
            f"/dream-machine/v1/generations/{created['id']}", headers={"Authorization": f"Bearer {DEMO_KEY}"}
        )
        await asyncio.sleep(0.4)
    assert [body["state"] for body in received] == ["dreaming"]


async def test_the_emulator_refuses_a_callback_url_that_is_not_a_url(dream):
    status, body = await _create(dream, {"model": "ray-2", "prompt": "a fox", "callback_url": "gateway"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "callback_url"]
