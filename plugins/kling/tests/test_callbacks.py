"""Kling calls back: a task completes as soon as the emulator posts, with fewer polls than without."""

from __future__ import annotations

import json
import socket
import time

import aiohttp
import attrs
import pytest

import reelay_kling
from reelay import Task, TaskStatus, VendorRef
from reelay.config import ServerConfig
from reelay.emulation import serve_app
from reelay.engine import Dispatcher
from reelay.http.app import create_app
from reelay.plugins import make_plugin_manager
from reelay.testing import TEST_TOKEN, GatewayClient, channel_for, gateway_config
from reelay_kling.emulator import STATE
from reelay_kling.emulator import create_app as create_emulator
from reelay_kling.wire import parse_callback


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _run(tmp_path, *, callbacks: bool, generation_seconds: float = 2.0):
    """Submit one Kling task through a real gateway; (final task, emulator state, its stored completion time)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    pm = make_plugin_manager(load_entry_points=False, plugins=[reelay_kling.plugin])
    spec = reelay_kling.plugin.emulators[0]
    emulator = create_emulator(spec.settings(generation_seconds=generation_seconds))
    async with serve_app(emulator) as emulator_url:
        port = _free_port()
        public = f"http://127.0.0.1:{port}" if callbacks else None
        channel = channel_for(spec, emulator_url, typical_seconds=4.0)
        config = gateway_config([channel], tmp_path, server=ServerConfig(port=port, public_url=public))
        dispatcher = Dispatcher(config, pm=pm)
        app = create_app(config, dispatcher=dispatcher)
        async with serve_app(app, port=port) as base_url, aiohttp.ClientSession() as http:
            client = GatewayClient(base_url, TEST_TOKEN, http)
            status, task = await client.submit(model="kling-v1", prompt="a fox", duration=5)
            assert status == 200, task
            final, _ = await client.wait(task["id"], timeout=20)
            stored = await dispatcher.store.get(task["id"])
    return final, emulator[STATE], stored.completed_at


async def test_a_kling_task_completes_at_once_on_the_callback_with_fewer_polls(tmp_path):
    final, state, completed_at = await _run(tmp_path / "with", callbacks=True)
    assert final["status"] == "completed"
    [succeeded] = [sent for _, status, sent in state.callbacks if status == "succeed"]
    assert completed_at - succeeded < 0.2  # the callback, not the next poll
    final_polled, polled_state, _ = await _run(tmp_path / "without", callbacks=False)
    assert final_polled["status"] == "completed" and polled_state.callbacks == []
    assert state.queries < polled_state.queries


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
    pm = make_plugin_manager(load_entry_points=False, plugins=[reelay_kling.plugin])
    spec = reelay_kling.plugin.emulators[0]
    async with serve_app(create_emulator(spec.settings(generation_seconds=0.5))) as emulator_url:
        port = _free_port()
        config = gateway_config(
            [channel_for(spec, emulator_url)],
            tmp_path,
            server=ServerConfig(port=port, public_url=f"http://127.0.0.1:{port}"),
        )
        dispatcher = Dispatcher(config, pm=pm)
        async with (
            serve_app(create_app(config, dispatcher=dispatcher), port=port) as base,
            aiohttp.ClientSession() as http,
        ):
            client = GatewayClient(base, TEST_TOKEN, http)
            _, task = await client.submit(model="kling-v1", prompt="a fox", duration=5)
            async with http.post(f"{base}/v1/callbacks/kling/forged-token", json={"task_id": "1"}) as answer:
                assert answer.status == 404
                assert (await answer.json())["error"]["code"] == "callback_not_found"
            final, _ = await client.wait(task["id"], timeout=20)
            assert final["status"] == "completed"
            [(token, _, _)] = await _tokens(dispatcher)
            stale = {"task_id": (await dispatcher.store.get(task["id"])).vendor_ref.id, "task_status": "processing"}
            async with http.post(f"{base}/v1/callbacks/kling/{token}", json=stale) as answer:
                assert answer.status == 200  # taken, and ignored: the task ended
            async with http.post(f"{base}/v1/callbacks/sora/{token}", json=stale) as answer:
                assert answer.status == 404  # another vendor's route: a forgery
            assert (await client.get(task["id"]))["status"] == "completed"


async def _tokens(dispatcher):
    _, rows = await dispatcher.store.execute("SELECT token, task_id, vendor FROM task_callbacks")
    return [tuple(row) for row in rows]


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
