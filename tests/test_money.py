"""Money end to end: a real gateway on loopback, the acme emulator behind it, prices and quotas configured."""

import asyncio
import contextlib
from decimal import Decimal

import acme
import attrs
import pytest
from acme_gateway import ACME_KEY

from reelay.config import BillingConfig, Price, hash_key
from reelay.emulation import serve_app
from reelay.models import Channel, Token
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, fast_poller, gateway_config, running_gateway

POOR_TOKEN = "sk-poor-caller-token"
FREE_TOKEN = "sk-free-caller-token"
PRICES = (Price(model="acme-1", per_second=Decimal("0.07"), sizes={"1920x1080": Decimal("0.14")}),)


@contextlib.asynccontextmanager
async def priced_gateway(pm, tmp_path, *, generation_seconds=0.3, base_url=None, poller=None, **token_fields):
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=generation_seconds)
    async with serve_app(acme.create_emulator(settings)) as emulator_url:
        channel = Channel(
            name="acme-main", vendor="acme", base_url=base_url or emulator_url, credentials={"api_key": ACME_KEY}
        )
        config = gateway_config([channel], tmp_path, billing=BillingConfig("USD"), prices=PRICES)
        if poller is not None:
            config = attrs.evolve(config, poller=poller)
        tokens = (
            Token(name="tester", key_sha256=hash_key(TEST_TOKEN), quota=Decimal("5.00"), **token_fields),
            Token(name="poor", key_sha256=hash_key(POOR_TOKEN), quota=Decimal("0.10")),
            Token(name="free", key_sha256=hash_key(FREE_TOKEN)),
        )
        async with running_gateway(attrs.evolve(config, tokens=tokens), pm=pm) as gateway:
            yield gateway


@pytest.fixture
def submissions(acme_pm):
    """Upstream submissions, counted where the gateway calls the vendor's plugin."""
    calls = []

    def before(hook_name, hook_impls, kwargs):
        if hook_name == "reelay_submit":
            calls.append(kwargs["request"].public_id)

    undo = acme_pm.add_hookcall_monitoring(before, lambda *args: None)
    yield calls
    undo()


async def usage(client, path="/v1/usage"):
    status, body = await client.request("GET", path)
    assert status == 200, body
    return body


async def test_a_hold_settles_on_the_vendors_seconds(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = gateway.client
        status, task = await client.submit(model="acme-1", prompt="a fox", seconds=8)
        assert status == 200, task
        assert task["cost"] == {"amount": "0.56", "currency": "USD", "state": "held"}
        assert (await usage(client))["held"] == "0.56"
        final, _ = await client.wait(task["id"])
        # acme reports 4 s made: the settle is on those, the rest of the hold goes back.
        assert final["cost"] == {"amount": "0.28", "currency": "USD", "state": "settled"}
        body = await usage(client)
        assert body | {"by_model": None} == {
            "object": "usage",
            "currency": "USD",
            "quota": "5.00",
            "balance": "4.72",
            "held": "0.00",
            "spent": "0.28",
            "since": None,
            "until": None,
            "by_model": None,
        }
        assert body["by_model"] == [{"model": "acme-1", "tasks": 1, "seconds": 4.0, "amount": "0.28"}]
        status, entries = await client.request("GET", "/v1/usage/entries?limit=2")
        assert [entry["kind"] for entry in entries["data"]] == ["settle", "hold"] and entries["has_more"]
        status, rest = await client.request("GET", f"/v1/usage/entries?after={entries['last_id']}")
        assert [entry["kind"] for entry in rest["data"]] == ["credit"] and not rest["has_more"]


async def test_a_size_has_its_own_price_per_second(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        _, task = await gateway.client.submit(model="acme-1", prompt="a fox", seconds=8, size="1920x1080")
        assert task["cost"]["amount"] == "1.12"


async def test_a_priced_model_says_its_price_in_x_reelay(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        status, model = await gateway.client.request("GET", "/v1/models/acme-1")
        _, listing = await gateway.client.request("GET", "/v1/models")
    assert status == 200
    assert model["x_reelay"]["price_per_second"] == {"amount": "0.07", "per_request": "0.00", "currency": "USD"}
    assert [entry["x_reelay"]["price_per_second"] for entry in listing["data"] if entry["id"] == "acme-1"] == [
        model["x_reelay"]["price_per_second"]
    ]


async def test_a_failed_generation_refunds(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = gateway.client
        _, task = await client.submit(model="acme-1", prompt="a fox [emulate:fail]", seconds=4)
        final, _ = await client.wait(task["id"])
        assert final["status"] == "failed" and final["cost"]["state"] == "refunded"
        body = await usage(client)
        assert (body["balance"], body["held"], body["spent"]) == ("5.00", "0.00", "0.00")


async def test_a_cancelled_task_refunds(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path, generation_seconds=30) as gateway:
        client = gateway.client
        _, task = await client.submit(model="acme-1", prompt="a fox", seconds=4)
        status, cancelled = await client.request("POST", f"/v1/videos/{task['id']}/cancel")
        assert status == 200 and cancelled["cost"]["state"] == "refunded"
        assert (await usage(client))["balance"] == "5.00"


async def test_a_task_that_times_out_refunds(acme_pm, tmp_path):
    poller = attrs.evolve(fast_poller(), timeout_seconds=0.5)
    async with priced_gateway(acme_pm, tmp_path, generation_seconds=30, poller=poller) as gateway:
        client = gateway.client
        _, task = await client.submit(model="acme-1", prompt="a fox", seconds=4)
        final, _ = await client.wait(task["id"])
        assert final["error"]["code"] == "timeout" and final["cost"]["state"] == "refunded"
        assert (await usage(client))["balance"] == "5.00"


async def test_all_channels_failing_refunds(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path, base_url="http://127.0.0.1:9") as gateway:
        client = gateway.client
        status, body = await client.submit(model="acme-1", prompt="a fox", seconds=4)
        assert status in (502, 503), body
        body = await usage(client)
        assert (body["balance"], body["held"]) == ("5.00", "0.00")
        _, entries = await client.request("GET", "/v1/usage/entries")
        assert [entry["kind"] for entry in entries["data"]] == ["refund", "hold", "credit"]
        # The caller got an error, not a task: none is listed (the ledger keeps the hold and its refund).
        _, listed = await client.request("GET", "/v1/videos")
        assert listed["data"] == []


async def test_a_hold_the_balance_cannot_cover_is_refused_before_any_upstream_call(acme_pm, tmp_path, submissions):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        headers = {"Authorization": f"Bearer {POOR_TOKEN}"}
        async with gateway.client.http.post(
            gateway.base_url + "/v1/videos",
            json={"model": "acme-1", "prompt": "a fox", "seconds": "4"},
            headers=headers,
        ) as response:
            body = await response.json()
            assert response.status == 429 and response.headers["x-should-retry"] == "false"
        assert body["error"]["code"] == "insufficient_quota" and body["error"]["type"] == "rate_limit_error"
        assert "0.10" in body["error"]["message"] and "0.28" in body["error"]["message"]
        assert submissions == []


async def test_a_free_model_has_no_cost_and_an_unlimited_token_no_quota(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = attrs.evolve(gateway.client, token=FREE_TOKEN)
        _, task = await client.submit(model="acme-1", prompt="a fox", seconds=4)
        assert task["cost"]["state"] == "held"
        body = await usage(client)
        assert body["quota"] is None and body["balance"] == "-0.28"


async def test_max_in_flight_is_a_429_with_retry_after(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path, generation_seconds=30, max_in_flight=2) as gateway:
        client = gateway.client
        for _ in range(2):
            status, _ = await client.submit(model="acme-1", prompt="a fox", seconds=4)
            assert status == 200
        async with client.http.post(
            gateway.base_url + "/v1/video/generations",
            json={"model": "acme-1", "prompt": "a fox", "seconds": 4},
            headers=client.headers,
        ) as response:
            body = await response.json()
            assert response.status == 429 and int(response.headers["Retry-After"]) > 0
        assert body["error"]["code"] == "too_many_tasks"


# ---------------------------------------------------------------- idempotency


async def post(client, path, body, key):
    headers = {**client.headers, "Idempotency-Key": key}
    async with client.http.post(client.base_url + path, json=body, headers=headers) as response:
        return response.status, response.headers.get("Idempotent-Replayed"), await response.json()


async def test_the_same_key_and_body_replays_the_task(acme_pm, tmp_path, submissions):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = gateway.client
        body = {"model": "acme-1", "prompt": "a fox", "seconds": 4}
        first = await post(client, "/v1/video/generations", body, "k-1")
        again = await post(client, "/v1/video/generations", dict(reversed(body.items())), "k-1")
        assert first[0] == again[0] == 200 and (first[1], again[1]) == (None, "true")
        assert first[2]["id"] == again[2]["id"] and len(submissions) == 1
        assert (await usage(client))["held"] == "0.28"  # one hold
        other = attrs.evolve(client, token=FREE_TOKEN)  # keys are per token
        assert (await post(other, "/v1/video/generations", body, "k-1"))[2]["id"] != first[2]["id"]


async def test_the_same_key_with_another_body_is_a_409(acme_pm, tmp_path):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = gateway.client
        await post(client, "/v1/videos", {"model": "acme-1", "prompt": "a fox"}, "k-2")
        status, _, body = await post(client, "/v1/videos", {"model": "acme-1", "prompt": "a cat"}, "k-2")
        assert status == 409 and body["error"]["code"] == "idempotency_key_reused"


async def test_a_failed_submission_frees_its_key(acme_pm, tmp_path, submissions):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = attrs.evolve(gateway.client, token=POOR_TOKEN)
        body = {"model": "acme-1", "prompt": "a fox", "seconds": 4}
        assert (await post(client, "/v1/video/generations", body, "k-3"))[0] == 429
        assert (await post(client, "/v1/video/generations", body, "k-3"))[0] == 429  # tried again, not replayed


async def test_twenty_concurrent_requests_with_one_key_make_one_submission(acme_pm, tmp_path, submissions):
    async with priced_gateway(acme_pm, tmp_path) as gateway:
        client = gateway.client
        body = {"model": "acme-1", "prompt": "a fox", "seconds": 4}
        answers = await asyncio.gather(*(post(client, "/v1/video/generations", body, "race") for _ in range(20)))
        assert {status for status, _, _ in answers} == {200}
        assert len({answer["id"] for _, _, answer in answers}) == 1
        assert sorted(replayed or "" for _, replayed, _ in answers) == [""] + ["true"] * 19
        assert len(submissions) == 1
        assert (await usage(client))["held"] == "0.28"
