"""Webhooks to callers, end to end: a real gateway, the acme emulator, a receiver verifying every signature."""

from __future__ import annotations

import asyncio

import attrs
import pytest
from notify_support import (
    SECRET,
    Receiver,
    acme_emulator,
    free_port,
    notify_config,
    notify_gateway,
    serve_receiver,
)

from reelay.config import ConfigError, parse_config
from reelay.engine import Dispatcher
from reelay.engine.delivery import backoff_delay
from reelay.models import Token


async def _ended(gateway, task_id):
    final, _ = await gateway.client.wait(task_id)
    return final


async def test_completed_failed_and_cancelled_tasks_each_send_one_signed_event(acme_pm, tmp_path):
    receiver = Receiver()
    async with (
        acme_emulator(acme_pm) as emulator,
        serve_receiver(receiver) as hook,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, hook)) as gateway,
    ):
        client = gateway.client
        _, done = await client.submit(model="acme-1", prompt="a fox")
        _, failing = await client.submit(model="acme-1", prompt="a fox [emulate:fail]")
        _, cancelled = await client.submit(model="acme-1", prompt="a fox to cancel")
        status, body = await client.request("POST", f"/v1/videos/{cancelled['id']}/cancel")
        assert status == 200, body
        events = await receiver.wait_for(3)
        await asyncio.sleep(0.3)
    assert len(receiver.events) == 3 and receiver.requests == 3
    by_task = {event["data"]["id"]: event for event in events}
    assert by_task[done["id"]]["type"] == "video.completed"
    assert by_task[done["id"]]["data"]["status"] == "completed"
    assert by_task[done["id"]]["data"]["url"].endswith(f"/v1/videos/{done['id']}/content")
    assert by_task[failing["id"]]["type"] == "video.failed"
    assert by_task[failing["id"]]["data"]["error"]["code"] == "generation_failed"
    assert by_task[cancelled["id"]]["type"] == "video.cancelled"
    for event, headers in zip(receiver.events, receiver.headers, strict=True):
        assert headers["webhook-id"] == event["id"] and event["id"].startswith("evt_")
        assert set(event) == {"id", "type", "created_at", "data"}


async def test_a_receiver_failing_three_times_gets_the_event_once_after_four_attempts(acme_pm, tmp_path):
    receiver = Receiver(answers=[500, 500, 500])
    async with (
        acme_emulator(acme_pm) as emulator,
        serve_receiver(receiver) as hook,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, hook + "?key=receiver-secret")) as gateway,
    ):
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
        await receiver.wait_for(1)
        await asyncio.sleep(0.5)  # nothing more comes after the 2xx
        status, listing = await gateway.client.request("GET", f"/v1/videos/{task['id']}/deliveries")
    assert receiver.requests == 4 and len(receiver.events) == 1
    assert status == 200
    attempts = listing["data"]
    assert [attempt["status_code"] for attempt in attempts] == [500, 500, 500, 204]
    assert [attempt["attempt"] for attempt in attempts] == [1, 2, 3, 4]
    assert all(attempt["url"] == hook for attempt in attempts)  # no query string: it may hold a secret
    assert all(attempt["next_retry_at"] is not None for attempt in attempts[:3])
    assert attempts[3]["next_retry_at"] is None
    assert listing["deliveries"][0]["state"] == "delivered"
    assert "receiver-secret" not in str(listing)


async def test_a_receiver_down_while_the_gateway_restarts_gets_the_event_after_the_restart(acme_pm, tmp_path):
    receiver = Receiver()
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hooks"
    async with acme_emulator(acme_pm) as emulator:
        config = notify_config(emulator, tmp_path, hook, backoff_seconds=0.2, max_backoff_seconds=0.3)
        async with notify_gateway(acme_pm, config) as gateway:
            _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
            await _ended(gateway, task["id"])
            for _ in range(200):
                _, listing = await gateway.client.request("GET", f"/v1/videos/{task['id']}/deliveries")
                if listing["data"]:
                    break
                await asyncio.sleep(0.02)
            assert listing["data"][0]["status_code"] is None
            assert "connection error" in listing["data"][0]["error"]
        assert receiver.events == []
        async with serve_receiver(receiver, port=port), notify_gateway(acme_pm, config) as gateway:
            events = await receiver.wait_for(1)
            _, listing = await gateway.client.request("GET", f"/v1/videos/{task['id']}/deliveries")
    assert events[0]["data"]["id"] == task["id"] and events[0]["type"] == "video.completed"
    assert listing["data"][-1]["status_code"] == 204
    assert receiver.requests == 1


async def test_two_gateways_on_one_postgresql_store_deliver_each_event_once(acme_pm, tmp_path, postgres_url):
    receiver = Receiver()
    async with acme_emulator(acme_pm) as emulator, serve_receiver(receiver) as hook:
        config = notify_config(emulator, tmp_path, hook, store_url=postgres_url)
        async with notify_gateway(acme_pm, config) as first, notify_gateway(acme_pm, config) as second:
            ids = []
            for gateway in (first, second, first, second, first, second):
                status, task = await gateway.client.submit(model="acme-1", prompt="a fox")
                assert status == 200, task
                ids.append(task["id"])
            events = await receiver.wait_for(len(ids))
            await asyncio.sleep(0.5)
    assert receiver.requests == len(ids) == len(receiver.events)
    assert sorted(event["data"]["id"] for event in events) == sorted(ids)
    assert len({event["id"] for event in events}) == len(ids)


async def test_a_request_webhook_url_overrides_the_tokens(acme_pm, tmp_path):
    tokens_receiver, requests_receiver = Receiver(), Receiver()
    async with (
        acme_emulator(acme_pm) as emulator,
        serve_receiver(tokens_receiver) as token_hook,
        serve_receiver(requests_receiver) as request_hook,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, token_hook)) as gateway,
    ):
        status, task = await gateway.client.submit(model="acme-1", prompt="a fox", webhook_url=request_hook)
        assert status == 200, task
        await requests_receiver.wait_for(1)
        await asyncio.sleep(0.3)
    assert tokens_receiver.requests == 0
    assert requests_receiver.events[0]["data"]["id"] == task["id"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.1.2.3/hooks", "private address"),
        ("http://169.254.169.254/latest", "metadata"),
        ("ftp://example.com/hooks", "http or https"),
        ("http://user:pw@example.com/hooks", "credentials"),
    ],
)
async def test_a_request_webhook_url_inside_the_network_is_a_400(acme_pm, tmp_path, url, reason):
    async with (
        acme_emulator(acme_pm) as emulator,
        notify_gateway(acme_pm, notify_config(emulator, tmp_path, None)) as gateway,
    ):
        status, body = await gateway.client.submit(model="acme-1", prompt="a fox", webhook_url=url)
        openai_status, _ = await gateway.client.request(
            "POST", "/v1/videos", json={"model": "acme-1", "prompt": "x", "webhook_url": url}
        )
    assert openai_status == 400
    assert status == 400
    assert body["error"]["param"] == "webhook_url" and reason in body["error"]["message"]
    assert set(body["error"]) == {"message", "type", "code", "param"}


async def test_loopback_receivers_need_allow_loopback(acme_pm, tmp_path):
    async with acme_emulator(acme_pm) as emulator:
        config = notify_config(emulator, tmp_path, "http://127.0.0.1:9/hooks", allow_loopback=False)
        with pytest.raises(ConfigError, match=r"tokens\[0\]\.webhook_url: .*loopback"):
            Dispatcher(config, pm=acme_pm)
        tokens = (attrs.evolve(config.tokens[0], webhook_url=None),)
        async with notify_gateway(acme_pm, attrs.evolve(config, tokens=tokens)) as gateway:
            status, body = await gateway.client.submit(
                model="acme-1", prompt="a fox", webhook_url="http://127.0.0.1:9/"
            )
    assert status == 400 and body["error"]["param"] == "webhook_url"


def test_token_webhook_settings_are_read_and_checked():
    base = {"name": "a", "key": "sk-0123456789"}
    config = parse_config({"tokens": [{**base, "webhook_url": "https://example.com/h", "webhook_secret": SECRET}]})
    token: Token = config.tokens[0]
    assert token.webhook_url == "https://example.com/h" and token.webhook_secret == SECRET
    assert SECRET not in repr(token)
    with pytest.raises(ConfigError, match="webhook_secret: expected whsec_"):
        parse_config({"tokens": [{**base, "webhook_secret": "not-a-secret"}]})
    config = parse_config(
        {"webhooks": {"allow_loopback": True, "backoff_seconds": 1}, "events": {"heartbeat_seconds": 2}}
    )
    assert config.webhooks.allow_loopback and config.webhooks.backoff_seconds == 1.0
    assert config.events.heartbeat_seconds == 2.0


def test_backoff_doubles_with_jitter_up_to_the_ceiling():
    for attempt, full in ((1, 5.0), (2, 10.0), (3, 20.0), (20, 3600.0)):
        delays = [backoff_delay(attempt, 5.0, 3600.0) for _ in range(50)]
        assert all(full / 2 <= delay <= full for delay in delays)
        assert len(set(delays)) > 1


async def test_a_claimed_delivery_waits_for_its_lease_and_records_once_sqlite(tmp_path):
    await _claims_and_records(f"sqlite:///{tmp_path / 'reelay.db'}")


async def test_a_claimed_delivery_waits_for_its_lease_and_records_once_postgresql(postgres_url):
    await _claims_and_records(postgres_url)


async def _claims_and_records(store_url):
    from reelay.store import open_store
    from reelay.store.deliveries import DELIVERED, Attempt, Deliveries, Delivery
    from reelay.store.sqlite_database import SQLiteDatabase

    store = open_store(store_url)
    await store.open()
    try:
        deliveries = Deliveries(store, postgres=not isinstance(store, SQLiteDatabase))
        delivery = Delivery(
            "evt_1", "video_1", "tester", "video.completed", "http://h/x?k=1", "{}", 100.0, next_attempt_at=100.0
        )
        assert await deliveries.add(delivery)
        assert not await deliveries.add(delivery)  # one event, made once
        first, second = await asyncio.gather(
            deliveries.claim_due(101.0, "a", 60.0, 10), deliveries.claim_due(101.0, "b", 60.0, 10)
        )
        assert len(first) + len(second) == 1
        winner = "a" if first else "b"
        assert await deliveries.claim_due(150.0, "c", 60.0, 10) == []  # the lease holds
        attempt = Attempt("evt_1", "video_1", 1, 102.0, "http://h/x", 204)
        assert not await deliveries.record(attempt, lease="c", state=DELIVERED)  # not the lease holder
        assert await deliveries.record(attempt, lease=winner, state=DELIVERED)
        assert await deliveries.claim_due(1000.0, "c", 60.0, 10) == []  # delivered: never again
        assert [a.status_code for a in await deliveries.attempts("video_1")] == [204]
        assert await deliveries.next_due() is None
    finally:
        await store.close()
