"""Channel health: a breaker per channel, end to end and by its states."""

from __future__ import annotations

import contextlib

import acme
import pytest
from aiohttp import web

from reelay.config import BreakerConfig
from reelay.emulation import serve_app
from reelay.engine.breakers import Breakers, BreakerState
from reelay.models import Channel
from reelay.plugins import Registry
from reelay.testing import gateway_config, running_gateway

KEY = {"api_key": "acme-test-key-123"}


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def failing_upstream(status: int):
    """A vendor that answers ``status`` to everything, counting the calls."""
    calls = []

    async def answer(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({"message": "down"}, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    async with serve_app(app) as url:
        yield url, calls


@contextlib.asynccontextmanager
async def two_channels(pm, tmp_path, status: int):
    """A gateway whose preferred channel answers ``status``, and a healthy one behind it."""
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=0.1)
    async with serve_app(acme.create_emulator(settings)) as healthy_url, failing_upstream(status) as (bad_url, calls):
        channels = [
            Channel(name="flaky", vendor="acme", base_url=bad_url, priority=10, credentials=KEY),
            Channel(name="steady", vendor="acme", base_url=healthy_url, priority=1, credentials=KEY),
        ]
        config = gateway_config(channels, tmp_path, breaker=BreakerConfig(failures=5, cooldown_seconds=30))
        async with running_gateway(config, pm=pm, poller=False) as gw:
            clock = Clock()
            gw.dispatcher.breakers.clock = clock
            yield gw, calls, clock


async def test_a_failing_channel_is_skipped_then_probed(acme_pm, tmp_path):
    async with two_channels(acme_pm, tmp_path, 500) as (gw, calls, clock):
        for _ in range(5):
            status, body = await gw.client.submit(model="acme-1", prompt="fox")
            assert status == 200, body  # failed over to the healthy channel
        assert len(calls) == 5
        assert gw.dispatcher.breakers.state("flaky") is BreakerState.OPEN

        for _ in range(100):
            status, _ = await gw.client.submit(model="acme-1", prompt="fox")
            assert status == 200
        assert len(calls) == 5  # not one call to the failing channel while it rests

        clock.now += 30
        assert gw.dispatcher.breakers.state("flaky") is BreakerState.HALF_OPEN
        for _ in range(3):
            assert (await gw.client.submit(model="acme-1", prompt="fox"))[0] == 200
        assert len(calls) == 6  # exactly one probe; it failed, so the channel rests again, longer
        breaker = gw.dispatcher.breakers.of("flaky")
        assert breaker.state is BreakerState.OPEN and breaker.cooldown == 60

        clock.now += 59
        await gw.client.submit(model="acme-1", prompt="fox")
        assert len(calls) == 6
        clock.now += 1
        await gw.client.submit(model="acme-1", prompt="fox")
        assert len(calls) == 7


async def test_credential_failure_disables_the_channel_until_enabled(acme_pm, tmp_path, capsys):
    async with two_channels(acme_pm, tmp_path, 401) as (gw, calls, clock):
        status, _ = await gw.client.submit(model="acme-1", prompt="fox")
        assert status == 200 and len(calls) == 1
        assert gw.dispatcher.breakers.state("flaky") is BreakerState.DISABLED
        clock.now += 10_000  # no cool-down ends a credential failure
        await gw.client.submit(model="acme-1", prompt="fox")
        assert len(calls) == 1
        gw.dispatcher.breakers.enable("flaky")
        await gw.client.submit(model="acme-1", prompt="fox")
        assert len(calls) == 2
    logged = capsys.readouterr()
    text = logged.out + logged.err
    assert text.count("channel disabled") == 2  # once per disabling, with the reason
    assert KEY["api_key"] not in text


def test_breaker_states():
    clock = Clock()
    breakers = Breakers(BreakerConfig(failures=3, cooldown_seconds=10, max_cooldown_seconds=25), clock)
    for _ in range(2):
        breakers.record("a", "transient")
    breakers.record("a", "ok")  # a success in between resets the count
    for _ in range(2):
        breakers.record("a", "rate_limited")
    assert breakers.state("a") is BreakerState.CLOSED
    breakers.record("a", "error")
    assert breakers.state("a") is BreakerState.OPEN
    assert breakers.admit(["a", "b"], str) == ["b"]
    clock.now += 10
    assert breakers.admit(["a", "b"], str) == ["a", "b"]  # the probe
    assert breakers.admit(["a", "b"], str) == ["b"]  # only one
    breakers.record("a", "transient")
    assert breakers.of("a").cooldown == 20
    clock.now += 20
    breakers.admit(["a"], str)
    breakers.record("a", "transient")
    assert breakers.of("a").cooldown == 25  # capped
    clock.now += 25
    breakers.admit(["a"], str)
    breakers.record("a", "caller")  # the vendor answered: healthy
    assert breakers.state("a") is BreakerState.CLOSED and breakers.admit(["a"], str) == ["a"]


@pytest.mark.parametrize("outcome", ["caller", "content_policy", "not_found", "ok"])
def test_answers_that_are_not_the_channels_fault_never_open_it(outcome):
    breakers = Breakers(BreakerConfig(failures=1), Clock())
    for _ in range(10):
        breakers.record("a", outcome)
    assert breakers.state("a") is BreakerState.CLOSED
