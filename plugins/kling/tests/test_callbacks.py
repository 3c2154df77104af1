"""Kling calls back: a task completes as soon as the emulator posts, with fewer polls than without."""

from __future__ import annotations

import json
import time

import attrs
import pytest

import reelay_kling
from reelay import Task, TaskStatus, VendorRef
from reelay.config import ServerConfig
from reelay.engine import Dispatcher
from reelay.plugins import make_plugin_manager
from reelay.testing import callback_gateway, channel_for, check_callbacks_end_tasks, gateway_config
from reelay_kling.emulator import STATE
from reelay_kling.wire import parse_callback


async def test_a_kling_task_completes_at_once_on_the_callback_with_fewer_polls(tmp_path):
    await check_callbacks_end_tasks(reelay_kling.plugin, tmp_path, STATE, "succeed", model="kling-v1", prompt="a fox")


def _task(**overrides) -> Task:
    values = dict(id="video_abc", owner="t", model="kling-v1", vendor="kling", channel="c", vendor_ref=VendorRef("42"))
    values.update(overrides)
    return Task(**values)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"task_id": "42", "task_status": "processing"}, TaskStatus.IN_PROGRESS),
        ({"task_id": "42", "task_status": "failed", "task_status_msg": "boom"}, TaskStatus.FAILED),
        ({"task_id": "41", "task_status": "failed"}, None),  # another task's: refused
        ({"task_id": "42", "task_status": "processing", "task_info": {"external_task_id": "video_x"}}, None),
        ({"task_status": "processing"}, None),
        ("not json", None),
    ],
)
def test_parse_callback_accepts_only_this_tasks_callbacks(body, expected):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    update = parse_callback(raw, _task())
    assert (update.status if update is not None else None) == expected


def test_before_the_vendor_id_is_recorded_the_external_id_decides():
    body = {"task_id": "42", "task_status": "processing", "task_info": {"external_task_id": "video_abc"}}
    assert parse_callback(json.dumps(body).encode(), _task(vendor_ref=None)) is not None
    body["task_info"]["external_task_id"] = "video_other"
    assert parse_callback(json.dumps(body).encode(), _task(vendor_ref=None)) is None


async def test_forged_and_replayed_callbacks_change_nothing(tmp_path):
    async with callback_gateway(reelay_kling.plugin, tmp_path, generation_seconds=0.5) as (gateway, emulator):
        client, http, base = gateway.client, gateway.client.http, gateway.base_url
        _, task = await client.submit(model="kling-v1", prompt="a fox", duration=5)
        async with http.post(f"{base}/v1/callbacks/kling/forged-token", json={"task_id": "1"}) as answer:
            assert answer.status == 404
            assert (await answer.json())["error"]["code"] == "callback_not_found"
        final, _ = await client.wait(task["id"], timeout=20)
        assert final["status"] == "completed"
        [url] = emulator[STATE].callbacks.urls.values()
        stale = {"task_id": (await gateway.dispatcher.store.get(task["id"])).vendor_ref.id, "task_status": "processing"}
        async with http.post(url, json=stale) as answer:
            assert answer.status == 200  # taken, and ignored: the task ended
        async with http.post(url.replace("/callbacks/kling/", "/callbacks/sora/"), json=stale) as answer:
            assert answer.status == 404  # another vendor's route: a forgery
        assert (await client.get(task["id"]))["status"] == "completed"


def test_tasks_with_callbacks_are_polled_at_the_slower_backstop_rate(tmp_path):
    pm = make_plugin_manager(load_entry_points=False, plugins=[reelay_kling.plugin])
    spec = reelay_kling.plugin.emulators[0]
    channel = channel_for(spec, "http://127.0.0.1:9", typical_seconds=100.0)
    config = gateway_config([channel], tmp_path)
    task = _task(channel=channel.name, created_at=time.time())
    plain = Dispatcher(config, pm=pm).schedule.next_poll_delay(task, time.time())
    config = attrs.evolve(config, server=ServerConfig(public_url="https://video.example.com"))
    backstop = Dispatcher(config, pm=pm).schedule.next_poll_delay(task, time.time())
    assert backstop == pytest.approx(plain * 4)
