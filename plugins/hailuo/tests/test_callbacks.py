"""MiniMax calls back: the challenge answered, then each status read as a poll's answer, end to end."""

from __future__ import annotations

import asyncio
import json
import time

import attrs
import pytest
from aiohttp import web
from yarl import URL

import reelay_hailuo
from reelay import InvalidRequest, Task, TaskStatus, VendorRef
from reelay.emulation import serve_app
from reelay.testing import (
    callback_gateway,
    callback_receiver,
    check_callbacks_end_tasks,
    check_foreign_callbacks_change_nothing,
)
from reelay_hailuo.emulator import STATE
from reelay_hailuo.models import BY_NAME
from reelay_hailuo.wire import callback_reply, parse_callback

MODEL = "MiniMax-Hailuo-2.3"
TASK_ID = "106916112212032"
CREATE = "https://mm.test/v1/video_generation"
CALLBACK = "https://gateway.example/v1/callbacks/hailuo/tok"
CALLERS = "https://caller.example/hook"
KEY = {"Authorization": "Bearer minimax-demo-key"}


@pytest.fixture
def hailuo_task() -> Task:
    return Task(id="video_h", owner="o", model=MODEL, vendor="hailuo", channel="mm", vendor_ref=VendorRef(TASK_ID))


def _body(pm, channel, request):
    return pm.hook.reelay_build_payload(request=request, model=BY_NAME[request.model].spec, channel=channel)


# ---------------------------------------------------------------- the create body


@pytest.mark.parametrize("callback_url", [CALLBACK, None])
async def test_callback_url_is_sent_only_when_the_core_gives_one(
    pm, channel, http, mocked, recorded, request_for, callback_url
):
    request = attrs.evolve(request_for(MODEL, prompt="a fox"), callback_url=callback_url)
    mocked.post(CREATE, payload=recorded("create"))
    await pm.hook.reelay_submit(payload=_body(pm, channel, request), request=request, channel=channel, http=http)
    sent = json.loads(mocked.requests[("POST", URL(CREATE))][0].kwargs["data"])
    assert sent.get("callback_url") == callback_url and ("callback_url" in sent) == (callback_url is not None)


def test_the_gateways_callback_url_replaces_a_callers(pm, channel, request_for):
    request = request_for(MODEL, prompt="a fox", metadata={"callback_url": CALLERS})
    assert _body(pm, channel, request)["callback_url"] == CALLERS  # no gateway URL: the caller's passes through
    assert _body(pm, channel, attrs.evolve(request, callback_url=CALLBACK))["callback_url"] == CALLBACK


@pytest.mark.parametrize("value", ["gateway", 42, ""])
def test_a_callers_callback_url_must_be_a_url(pm, channel, request_for, value):
    with pytest.raises(InvalidRequest) as caught:
        _body(pm, channel, request_for(MODEL, prompt="a fox", metadata={"callback_url": value}))
    assert caught.value.param == "metadata.callback_url"


# ---------------------------------------------------------------- the challenge


def test_a_challenge_is_echoed(pm, channel, load_fixture, hailuo_task):
    body = json.dumps(load_fixture("hailuo-callback-challenge")).encode()
    reply = pm.hook.reelay_callback_reply(body=body, headers={}, task=hailuo_task, channel=channel)
    assert reply == {"challenge": "1a3cs1j-601a-118y-ch52-o48911eabc3u"}
    pending = attrs.evolve(hailuo_task, vendor_ref=None)  # it comes while the create call is in flight
    assert pm.hook.reelay_callback_reply(body=body, headers={}, task=pending, channel=channel) == reply


@pytest.mark.parametrize(
    "body",
    [
        b'{"challenge": 42}',
        b'{"challenge": ""}',
        b'{"challenge": null}',
        b'["challenge"]',
        b"not json",
        b"\xff\xfe",
        b"[" * 100_000,  # past the parser's depth
        b'{"task_id": "106916112212032", "status": "success", "file_id": "205258526306433"}',
    ],
)
def test_anything_but_a_challenge_is_not_answered(body):
    assert callback_reply(body) is None


def test_another_vendors_channel_gets_no_answer(pm, hailuo_task):
    from reelay import Channel

    other = Channel(name="o", vendor="seedance", base_url="https://o.test")
    body = b'{"challenge": "c1"}'
    assert pm.hook.reelay_callback_reply(body=body, headers={}, task=hailuo_task, channel=other) is None


# ---------------------------------------------------------------- status callbacks


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("callback-processing", TaskStatus.IN_PROGRESS, None),
        ("callback-success", TaskStatus.COMPLETED, None),
        ("callback-failed", TaskStatus.FAILED, "generation_failed"),
        ("callback-failed-1027", TaskStatus.FAILED, "content_policy_violation"),
        ("success", TaskStatus.COMPLETED, None),  # the earlier guide's example: the query's own status
    ],
)
def test_a_status_posted_back_is_read_as_a_poll_reads_it(pm, channel, recorded, hailuo_task, fixture, status, code):
    body = json.dumps(recorded(fixture)).encode()
    update = pm.hook.reelay_parse_callback(body=body, headers={}, task=hailuo_task, channel=channel)
    assert update == pm.hook.reelay_map_status(payload=recorded(fixture), task=hailuo_task, channel=channel)
    assert update.status is status and (update.error.code if update.error else None) == code


def test_the_success_callback_carries_the_file_to_resolve(recorded, hailuo_task):
    update = parse_callback(json.dumps(recorded("callback-success")).encode(), hailuo_task)
    assert update.result.extra == {"file_id": "205258526306433", "hailuo_task_id": TASK_ID}


@pytest.mark.parametrize(
    "body",
    [
        b'{"task_id": "106916112212099", "status": "success", "file_id": "1"}',  # another task's
        b'{"task_id": 106916112212032, "status": "success", "file_id": "1"}',  # not MiniMax's string id
        b'{"status": "success", "file_id": "1"}',
        b'{"task_id": "106916112212032", "status": "rendering"}',  # a status MiniMax does not document
        b'{"challenge": "c1"}',
        b"not json",
        b"[]",
    ],
)
def test_another_tasks_body_malformed_bodies_and_unknown_statuses_are_refused(hailuo_task, body):
    assert parse_callback(body, hailuo_task) is None


def test_a_status_before_the_task_id_is_recorded_is_refused(recorded, hailuo_task):
    pending = attrs.evolve(hailuo_task, vendor_ref=None)
    assert parse_callback(json.dumps(recorded("callback-success")).encode(), pending) is None


# ---------------------------------------------------------------- through a real gateway


async def test_a_hailuo_task_completes_at_once_on_the_callback_with_fewer_polls(tmp_path):
    await check_callbacks_end_tasks(reelay_hailuo.plugin, tmp_path, STATE, "success", model=MODEL, prompt="a fox")


async def test_bad_callbacks_on_the_real_route_are_json_400s_and_change_nothing(tmp_path):
    foreign = {"task_id": "106916112212099", "status": "success", "file_id": "1", "base_resp": {"status_code": 0}}
    await check_foreign_callbacks_change_nothing(
        reelay_hailuo.plugin, tmp_path, STATE, foreign, model=MODEL, prompt="a fox"
    )


async def test_the_gateway_answers_the_challenge_while_the_create_call_waits(tmp_path):
    async with callback_gateway(reelay_hailuo.plugin, tmp_path, generation_seconds=0.5) as (gateway, emulator):
        status, task = await gateway.client.submit(model=MODEL, prompt="a fox")
        assert status == 200, task
        state = emulator[STATE]
        [url] = state.callbacks.urls.values()
        assert url.startswith(f"{gateway.base_url}/v1/callbacks/hailuo/")
        assert [(one.url, one.passed) for one in state.challenges] == [(url, True)]
        # Answered only on a task's own URL: a forged token is a 404, the challenge not echoed.
        async with gateway.client.http.post(url.rpartition("/")[0] + "/forged", json={"challenge": "c1"}) as answer:
            assert answer.status == 404 and "challenge" not in await answer.json()
        final, _ = await gateway.client.wait(task["id"], timeout=20)
        assert final["status"] == "completed"


async def test_a_challenge_is_answered_at_once_while_another_holds_the_tasks_lease(tmp_path):
    # As when the poller resends an interrupted submission: it holds the lease while the vendor checks the URL.
    async with callback_gateway(reelay_hailuo.plugin, tmp_path, generation_seconds=1.0) as (gateway, emulator):
        _, task = await gateway.client.submit(model=MODEL, prompt="a fox")
        [url] = emulator[STATE].callbacks.urls.values()
        callbacks, clock = gateway.dispatcher.callbacks, time.time
        assert await callbacks.tokens.claim(task["id"], "someone-else", clock(), 30.0) is not None
        started = clock()
        async with gateway.client.http.post(url, json={"challenge": "c2"}) as answer:
            assert (answer.status, await answer.json()) == (200, {"challenge": "c2"})
        assert clock() - started < 1.0  # not after waiting for the lease (CLAIM_PATIENCE, 2 s)


# ---------------------------------------------------------------- the emulator


@pytest.fixture
async def minimax(aiohttp_client):
    (spec,) = reelay_hailuo.plugin.emulators
    return await aiohttp_client(spec.create_app(spec.settings(generation_seconds=0.3)))


async def _create(minimax, callback_url, prompt="a fox"):
    body = {"model": MODEL, "prompt": prompt, "callback_url": callback_url}
    response = await minimax.post("/v1/video_generation", json=body, headers=KEY)
    return response.status, await response.json()


def _echoing(delay: float = 0.0, echo=lambda challenge: challenge) -> tuple[web.Application, list]:
    """A receiver at ``/cb`` answering a challenge with ``echo(challenge)`` after ``delay`` seconds."""
    received: list = []

    async def take(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        if "challenge" not in body:
            return web.json_response({"status": "success"})
        await asyncio.sleep(delay)
        return web.json_response({"challenge": echo(body["challenge"])})

    app = web.Application()
    app.router.add_post("/cb", take)
    return app, received


async def test_an_echoed_challenge_creates_the_task_and_its_statuses_follow(minimax):
    receiver, received = _echoing()
    async with serve_app(receiver) as base:
        status, created = await _create(minimax, f"{base}/cb")
        assert status == 200 and created["base_resp"]["status_code"] == 0
        await asyncio.sleep(0.6)
    challenge, *posts = received
    assert set(challenge) == {"challenge"} and minimax.app[STATE].challenges[0].passed
    assert [post["status"] for post in posts] == ["processing", "success"]
    assert {post["task_id"] for post in posts} == {created["task_id"]}
    assert posts[-1]["file_id"] and "video_width" not in posts[-1]  # the earlier guide: no size in callbacks


async def test_a_failed_job_posts_failed(minimax):
    receiver, received = _echoing()
    async with serve_app(receiver) as base:
        await _create(minimax, f"{base}/cb", "a fox [emulate:block]")
        await asyncio.sleep(0.6)
    assert received[-1]["status"] == "failed" and received[-1]["base_resp"]["status_code"] == 1027


@pytest.mark.parametrize(
    "receiver",
    [
        lambda: callback_receiver()[0],  # 200 without the challenge
        lambda: callback_receiver([500])[0],
        lambda: _echoing(echo=lambda challenge: challenge + "x")[0],  # another value
        lambda: _echoing(delay=0.5)[0],  # late
    ],
    ids=["not-echoed", "refused", "wrong-value", "late"],
)
async def test_a_challenge_not_echoed_in_time_fails_the_creation(minimax, receiver):
    minimax.app[STATE].challenge_seconds = 0.2  # MiniMax's 3 s, shortened
    async with serve_app(receiver()) as base:
        status, created = await _create(minimax, f"{base}/cb")
    assert status == 200 and created["base_resp"]["status_code"] == 2013 and "task_id" not in created
    state = minimax.app[STATE]
    assert not state.jobs and state.callbacks.sent == [] and not state.challenges[0].passed


@pytest.mark.parametrize("callback_url", ["gateway", "http://127.0.0.1:9/cb", 42])
async def test_a_callback_url_that_cannot_answer_fails_the_creation(minimax, callback_url):
    minimax.app[STATE].challenge_seconds = 0.5
    status, created = await _create(minimax, callback_url)
    assert status == 200 and created["base_resp"]["status_code"] == 2013 and not minimax.app[STATE].jobs
