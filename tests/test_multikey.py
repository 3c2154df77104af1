"""Multi-key channels: keys in turn, a refused key taken out, each task kept on its own key."""

from __future__ import annotations

import acme
import pytest

from reelay.config import ConfigError, parse_config, validate
from reelay.emulation import serve_app
from reelay.engine.breakers import BreakerState
from reelay.models import Channel
from reelay.plugins import Registry
from reelay.testing import gateway_config, running_gateway

K1, K2, K3 = "acme-key-one-111", "acme-key-two-222", "acme-key-three-333"


def _channel(**fields):
    return {"name": "multi", "vendor": "acme", **fields}


def test_keys_tables_and_arrays_make_the_same_channel():
    tables = parse_config({"channels": [_channel(keys=[{"api_key": K1}, {"api_key": K2}])]}).channels[0]
    arrays = parse_config({"channels": [_channel(credentials={"api_key": [K1, K2]})]}).channels[0]
    assert tables == arrays
    assert tables.keys == ({"api_key": K1}, {"api_key": K2}) and tables.credentials == {"api_key": K1}
    assert tables.with_key(1).credentials == {"api_key": K2} and tables.with_key(1).key_index == 1
    assert tables.key_name(1) == "multi#1" and tables.with_key(1).breaker_name == "multi#1"
    single = parse_config({"channels": [_channel(credentials={"api_key": K1})]}).channels[0]
    assert single.keys == () and single.with_key(0) is single and single.breaker_name == "multi"
    with pytest.raises(LookupError):
        tables.with_key(2)


def test_shared_credentials_join_each_key():
    channel = parse_config(
        {"channels": [_channel(credentials={"region": "eu"}, keys=[{"api_key": K1}, {"api_key": K2}])]}
    ).channels[0]
    assert channel.keys == ({"region": "eu", "api_key": K1}, {"region": "eu", "api_key": K2})


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"credentials": {"api_key": [K1, 3]}}, "credentials: expected arrays of strings"),
        ({"credentials": {"api_key": []}}, "arrays of keys must be non-empty"),
        ({"keys": {"api_key": K1}}, "keys: expected an array of tables"),
        ({"keys": [{"api_key": K1}], "credentials": {"api_key": [K1]}}, "not both"),
    ],
)
def test_malformed_keys_are_reported(fields, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config({"channels": [_channel(**fields)]})
    assert problem in "\n".join(caught.value.problems)


def test_each_key_is_checked_against_the_vendor(acme_pm):
    config = parse_config({"channels": [_channel(keys=[{"api_key": K1}, {"secret": "x"}])]})
    problems = validate(config, Registry.collect(acme_pm), acme_pm)
    assert "channels[0].keys[1].api_key: required by vendor 'acme'" in problems
    assert "channels[0].keys[1].secret: not a credential of vendor 'acme'" in problems


async def _emulator(pm, *keys):
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=0.2)
    app = acme.create_emulator(settings)
    app[acme.KEYS].clear()
    app[acme.KEYS].update(keys)
    return app


async def test_tasks_take_keys_in_turn_and_keep_their_own(acme_pm, tmp_path):
    app = await _emulator(acme_pm, K1, K2, K3)
    async with serve_app(app) as url:
        channel = Channel(
            name="multi", vendor="acme", base_url=url, keys=({"api_key": K1}, {"api_key": K2}, {"api_key": K3})
        )
        async with running_gateway(gateway_config([channel], tmp_path), pm=acme_pm) as gw:
            ids = []
            for _ in range(6):
                status, body = await gw.client.submit(model="acme-1", prompt="fox")
                assert status == 200, body
                ids.append(body["id"])
            for task_id in ids:
                final, _ = await gw.client.wait(task_id)
                assert final["status"] == "completed", final
            for task_id in ids:
                status, _, _ = await gw.client.content(task_id)
                assert status == 200
            stored = [await gw.dispatcher.store.get(task_id) for task_id in ids]
    assert [task.key_index for task in stored] == [0, 1, 2, 0, 1, 2]  # round-robin
    for task in stored:
        job = app[acme.JOBS][task.vendor_ref.id]
        key = (K1, K2, K3)[task.key_index]
        assert job.data["submitted_with"] == [key]
        assert job.data["polled_with"] and set(job.data["polled_with"]) == {key}  # polled with its own key
        assert set(job.data.get("downloaded_with", [key])) == {key}


async def test_a_refused_key_is_taken_out_and_the_next_key_serves(acme_pm, tmp_path):
    app = await _emulator(acme_pm, K2)  # K1 revoked at the vendor: 401
    async with serve_app(app) as url:
        channel = Channel(name="multi", vendor="acme", base_url=url, keys=({"api_key": K1}, {"api_key": K2}))
        async with running_gateway(gateway_config([channel], tmp_path), pm=acme_pm) as gw:
            for _ in range(5):
                status, body = await gw.client.submit(model="acme-1", prompt="fox")
                assert status == 200, body  # the first one retried on K2, the rest went there directly
            breakers = gw.dispatcher.breakers
            assert breakers.state("multi#0") is BreakerState.DISABLED
            assert breakers.state("multi#1") is BreakerState.CLOSED
            assert breakers.state("multi") is BreakerState.CLOSED  # the channel itself still serves
            final, _ = await gw.client.wait(body["id"])
            assert final["status"] == "completed"
            assert (await gw.dispatcher.store.get(body["id"])).key_index == 1
            submitted = [job.data["submitted_with"] for job in app[acme.JOBS].values()]
            assert submitted == [[K2]] * 5  # only accepted submissions are recorded

            app[acme.KEYS].discard(K2)  # the last key refused too: the channel has none left
            status, body = await gw.client.submit(model="acme-1", prompt="fox")
            assert status == 502, body
            status, body = await gw.client.submit(model="acme-1", prompt="fox")
            assert status == 503 and body["error"]["code"] == "no_channel_available"


async def test_enabling_a_channel_enables_its_keys(acme_pm, tmp_path):
    app = await _emulator(acme_pm, K2)
    async with serve_app(app) as url:
        channel = Channel(name="multi", vendor="acme", base_url=url, keys=({"api_key": K1}, {"api_key": K2}))
        config = gateway_config([channel], tmp_path)
        async with running_gateway(config, pm=acme_pm) as gw:
            assert (await gw.client.submit(model="acme-1", prompt="fox"))[0] == 200
            gw.dispatcher.breakers.enable("multi")
            assert gw.dispatcher.breakers.state("multi#0") is BreakerState.CLOSED
