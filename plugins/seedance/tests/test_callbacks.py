"""Ark calls back: ``callback_url`` in the create body, the task object read as a poll's answer, end to end."""

from __future__ import annotations

import asyncio
import json

import attrs
import pytest
from yarl import URL

import reelay_seedance
from reelay import Task, TaskStatus, VendorRef
from reelay.emulation import serve_app
from reelay.testing import callback_receiver, check_callbacks_end_tasks, check_foreign_callbacks_change_nothing
from reelay_seedance.emulator import STATE
from reelay_seedance.models import BY_NAME
from reelay_seedance.wire import parse_callback

PRO = "doubao-seedance-1-0-pro-250528"
TASK_ID = "cgt-20250331175019-68d9t"
TASKS = "https://ark.test/api/v3/contents/generations/tasks"
CALLBACK = "https://gateway.example/v1/callbacks/seedance/tok"
CALLERS = "https://caller.example/hook"


@pytest.fixture
def ark_task() -> Task:
    return Task(
        id="video_t", owner="o", model=PRO, vendor="seedance", channel="ark-test", vendor_ref=VendorRef(TASK_ID)
    )


def _body(pm, channel, request):
    return pm.hook.reelay_build_payload(request=request, model=BY_NAME[PRO].spec, channel=channel)


@pytest.mark.parametrize("callback_url", [CALLBACK, None])
async def test_callback_url_is_sent_only_when_the_core_gives_one(pm, channel, http, mocked, normalized, callback_url):
    request = attrs.evolve(normalized(PRO, prompt="a fox"), callback_url=callback_url)
    mocked.post(TASKS, payload={"id": TASK_ID})
    await pm.hook.reelay_submit(payload=_body(pm, channel, request), request=request, channel=channel, http=http)
    sent = json.loads(mocked.requests[("POST", URL(TASKS))][0].kwargs["data"])
    assert sent.get("callback_url") == callback_url and ("callback_url" in sent) == (callback_url is not None)


def test_the_gateways_callback_url_replaces_a_callers(pm, channel, normalized):
    request = normalized(PRO, prompt="a fox", metadata={"callback_url": CALLERS})
    assert _body(pm, channel, request)["callback_url"] == CALLERS  # no gateway URL: the caller's passes through
    assert _body(pm, channel, attrs.evolve(request, callback_url=CALLBACK))["callback_url"] == CALLBACK


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("seedance-queued", TaskStatus.QUEUED),
        ("seedance-running", TaskStatus.IN_PROGRESS),
        ("seedance-succeeded", TaskStatus.COMPLETED),
        ("seedance-failed", TaskStatus.FAILED),
        ("seedance-failed-sensitive", TaskStatus.FAILED),
        ("seedance-expired", TaskStatus.FAILED),
    ],
)
def test_a_task_object_posted_back_is_read_as_a_poll_reads_it(pm, channel, load_fixture, ark_task, fixture, status):
    body = json.dumps(load_fixture(fixture)).encode()
    update = pm.hook.reelay_parse_callback(body=body, headers={}, task=ark_task, channel=channel)
    assert update == pm.hook.reelay_map_status(payload=load_fixture(fixture), task=ark_task, channel=channel)
    assert update.status is status


def test_the_succeeded_callback_carries_the_video(load_fixture, ark_task):
    update = parse_callback(json.dumps(load_fixture("seedance-succeeded")).encode(), ark_task)
    assert update.result.url.startswith("https://ark-content-generation") and update.result.duration == 5


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "cgt-20250331175019-other", "status": "running"}',
        b"not json",
        b'{"id": "cgt-20250331175019-68d9t", "status": "thinking"}',  # a status Ark does not document
    ],
)
def test_another_tasks_body_unreadable_json_and_unknown_statuses_are_refused(ark_task, body):
    assert parse_callback(body, ark_task) is None


async def test_a_seedance_task_completes_at_once_on_the_callback_with_fewer_polls(tmp_path):
    await check_callbacks_end_tasks(reelay_seedance.plugin, tmp_path, STATE, "succeeded", model=PRO, prompt="a fox")


async def test_bad_callbacks_on_the_real_route_are_json_400s_and_change_nothing(tmp_path):
    foreign = {"id": "cgt-20250331175019-other", "status": "succeeded"}
    await check_foreign_callbacks_change_nothing(
        reelay_seedance.plugin, tmp_path, STATE, foreign, model=PRO, prompt="a fox"
    )


# ---------------------------------------------------------------- the emulator's sender


async def _create(ark, body):
    response = await ark.post(
        "/api/v3/contents/generations/tasks", json=body, headers={"Authorization": "Bearer ark-demo-key"}
    )
    return response.status, await response.json()


@pytest.fixture
async def ark(aiohttp_client):
    spec = reelay_seedance.plugin.emulators[0]
    return await aiohttp_client(spec.create_app(spec.settings(generation_seconds=0.3)))


def _fields(url: str, prompt: str = "a fox") -> dict:
    return {"model": PRO, "content": [{"type": "text", "text": prompt}], "callback_url": url}


async def test_the_emulator_posts_each_status_and_retries_only_the_final_one(ark, monkeypatch):
    monkeypatch.setattr(ark.app[STATE].callbacks, "retry_delay", 0.05)  # Ark's own spacing is not documented
    receiver, received = callback_receiver([500, 500, 500, 500, 500])
    async with serve_app(receiver) as base:
        status, created = await _create(ark, _fields(f"{base}/cb", "a fox [emulate:fail]"))
        assert status == 200
        await asyncio.sleep(1.0)
    sent = [(one.status, one.answer) for one in ark.app[STATE].callbacks.sent]
    # queued and running are refused once each (not retried); failed is refused 3 times, then taken
    assert sent == [
        ("queued", 500),
        ("running", 500),
        ("failed", 500),
        ("failed", 500),
        ("failed", 500),
        ("failed", 200),
    ]
    assert received[-1]["id"] == created["id"] and received[-1]["error"]["code"] == "InternalServiceError"


async def test_a_cancelled_task_calls_back_no_more(ark):
    receiver, received = callback_receiver()
    async with serve_app(receiver) as base:
        _, created = await _create(ark, _fields(f"{base}/cb"))
        await ark.delete(
            f"/api/v3/contents/generations/tasks/{created['id']}", headers={"Authorization": "Bearer ark-demo-key"}
        )
        await asyncio.sleep(0.5)
    assert [body["status"] for body in received] in ([], ["queued"])  # the queued post may have left first


async def test_the_emulator_refuses_a_callback_url_that_is_not_a_url(ark):
    status, body = await _create(ark, _fields("gateway"))
    assert status == 400 and body["error"]["param"] == "callback_url"
