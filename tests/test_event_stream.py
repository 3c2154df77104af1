"""The live event stream, end to end, read with a real SSE client (httpx-sse)."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
from httpx_sse import aconnect_sse
from notify_support import acme_emulator, notify_config, notify_gateway

from reelay.testing import TEST_TOKEN

HEADERS = {"Authorization": f"Bearer {TEST_TOKEN}"}


async def _read(base_url: str, task_id: str, last_event_id: str | None = None) -> list:
    headers = dict(HEADERS)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with (
        httpx.AsyncClient(timeout=20) as client,
        aconnect_sse(client, "GET", f"{base_url}/v1/videos/{task_id}/events", headers=headers) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [event async for event in source.aiter_sse() if event.data]


# httpx-sse dispatches an empty event for the blank line after a heartbeat comment
# once an id was seen (browsers' EventSource does not): events without data are skipped.


async def test_the_stream_sends_every_progress_change_and_ends_after_the_final_event(acme_pm, tmp_path):
    async with (
        acme_emulator(acme_pm, generation_seconds=1.0) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
        events = await _read(gateway.base_url, task["id"])
    objects = [event.json() for event in events]
    assert [event.event for event in events] == [body["status"] for body in objects]
    assert events[-1].event == "completed" and objects[-1]["progress"] == 100
    assert events[0].event == "queued"
    running = [body["progress"] for body in objects if body["status"] == "in_progress"]
    assert len(running) >= 3, objects
    progress = [body["progress"] for body in objects]
    assert progress == sorted(progress)
    pairs = [(body["status"], body["progress"]) for body in objects]
    assert len(set(pairs)) == len(pairs)  # an event per change, never a repeat
    ids = [int(event.id) for event in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_last_event_id_resumes_after_the_last_event_seen(acme_pm, tmp_path):
    async with (
        acme_emulator(acme_pm, generation_seconds=1.0) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
        headers = {**HEADERS}
        seen = []
        async with (
            httpx.AsyncClient(timeout=20) as client,
            aconnect_sse(client, "GET", f"{gateway.base_url}/v1/videos/{task['id']}/events", headers=headers) as src,
        ):
            async for event in src.aiter_sse():
                if not event.data:
                    continue
                seen.append(event)
                if event.event == "in_progress":
                    break  # the caller drops the connection mid-way
        resumed = await _read(gateway.base_url, task["id"], last_event_id=seen[-1].id)
        after_end = await _read(gateway.base_url, task["id"], last_event_id=resumed[-1].id)
    assert all(int(event.id) > int(seen[-1].id) for event in resumed)
    assert resumed[-1].event == "completed"
    assert after_end == []  # nothing after the final event: the stream ends at once


async def test_the_stream_sends_heartbeat_comments(acme_pm, tmp_path):
    async with (
        acme_emulator(acme_pm, generation_seconds=1.0) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
        aiohttp.ClientSession() as http,
    ):
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
        async with http.get(f"{gateway.base_url}/v1/videos/{task['id']}/events", headers=HEADERS) as response:
            text = (await response.read()).decode()
    assert ": ping" in text  # every 0.2 s in these tests, 15 s by default
    assert text.rstrip().endswith("}")


async def test_a_failed_task_ends_the_stream_with_a_failed_event(acme_pm, tmp_path):
    async with (
        acme_emulator(acme_pm) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox [emulate:fail]")
        events = await _read(gateway.base_url, task["id"])
    assert events[-1].event == "failed" and events[-1].json()["error"]["code"] == "generation_failed"


async def test_an_unknown_task_is_a_json_404_before_any_stream(acme_pm, tmp_path):
    async with (
        acme_emulator(acme_pm) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        status, body = await gateway.client.request("GET", "/v1/videos/video_nope/events")
    assert status == 404 and body["error"]["code"] == "task_not_found"


async def test_changes_polled_by_another_gateway_reach_the_stream_on_postgresql(acme_pm, tmp_path, postgres_url):
    async with acme_emulator(acme_pm, generation_seconds=1.0) as emulator:
        config = notify_config(emulator, tmp_path, None, store_url=postgres_url)
        async with (
            notify_gateway(acme_pm, config) as polling,
            notify_gateway(acme_pm, config, poller=False) as serving,
        ):
            assert serving.dispatcher.watcher.changes.notified
            _, task = await polling.client.submit(model="acme-1", prompt="a fox")
            started = asyncio.get_running_loop().time()
            events = await _read(serving.base_url, task["id"])
            took = asyncio.get_running_loop().time() - started
    assert events[-1].event == "completed"
    assert len([event for event in events if event.event == "in_progress"]) >= 3
    assert took < 4.0  # notified, not waiting out the 0.5 s fallback looks


async def test_the_client_waits_on_the_stream_and_falls_back_to_polling(acme_pm, tmp_path, monkeypatch):
    from reelay.client import GatewayError, ReelayClient

    async with (
        acme_emulator(acme_pm, generation_seconds=0.5) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        client = ReelayClient(gateway.base_url, TEST_TOKEN)
        task = await asyncio.to_thread(client.create, {"model": "acme-1", "prompt": "a fox"})
        seen: list[dict] = []

        def no_polls(task_id):
            raise AssertionError("polled although the stream is offered")

        monkeypatch.setattr(client, "_get", no_polls)
        final = await asyncio.to_thread(client.wait, task["id"], on_update=seen.append)
        assert final["status"] == "completed" and len(seen) >= 3
        monkeypatch.undo()

        second = await asyncio.to_thread(client.create, {"model": "acme-1", "prompt": "a fox"})
        opened = client._open

        def without_stream(method, path, **kwargs):
            if path.endswith("/events"):
                raise GatewayError(404, "not found", code="not_found")  # an older gateway
            return opened(method, path, **kwargs)

        monkeypatch.setattr(client, "_open", without_stream)
        final = await asyncio.to_thread(client.wait, second["id"], min_interval=0.05, max_interval=0.1)
    assert final["status"] == "completed"
