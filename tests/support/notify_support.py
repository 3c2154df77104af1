"""Shared test helpers for webhooks and the event stream: a verifying receiver, gateways wired to it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import acme
import attrs
from acme_gateway import ACME_KEY
from aiohttp import web
from standardwebhooks import Webhook

from reelay.config import EventsConfig, StoreConfig, WebhooksConfig, hash_key
from reelay.emulation import serve_app
from reelay.models import Channel, Token
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, RunningGateway, gateway_config, running_gateway

SECRET = "whsec_" + base64.b64encode(b"reelay-test-webhook-secret-32byt").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another-callers-secret-0123456789").decode()


@attrs.define
class Receiver:
    """A webhook receiver that verifies every delivery with ``standardwebhooks``.

    ``answers`` are the statuses given (in order) before it starts taking events with 204.
    """

    secret: str = SECRET
    answers: list[int] = attrs.field(factory=list)
    events: list[dict[str, Any]] = attrs.field(factory=list)
    headers: list[dict[str, str]] = attrs.field(factory=list)
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        payload = Webhook(self.secret).verify(body, dict(request.headers))  # raises when the signature is wrong
        if self.answers:
            return web.Response(status=self.answers.pop(0))
        self.events.append(payload)
        self.headers.append(dict(request.headers))
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.events)} of {count} webhooks arrived; requests: {self.requests}")
            await asyncio.sleep(0.02)
        return self.events


@contextlib.asynccontextmanager
async def serve_receiver(receiver: Receiver, port: int = 0) -> AsyncIterator[str]:
    """Run ``receiver`` on loopback; yields its hook URL."""
    app = web.Application()
    app.router.add_post("/hooks", receiver.handle)
    async with serve_app(app, port=port) as base:
        yield f"{base}/hooks"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def acme_emulator(pm: Any, generation_seconds: float = 0.3) -> AsyncIterator[str]:
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=generation_seconds)
    async with serve_app(acme.create_emulator(settings)) as url:
        yield url


def notify_config(
    emulator_url: str, workdir: Path, hook_url: str | None, *, store_url: str | None = None, **webhooks: Any
) -> Any:
    """A test gateway configuration: fast retries and heartbeats, the test token with ``hook_url``."""
    channel = Channel(name="acme-main", vendor="acme", base_url=emulator_url, credentials={"api_key": ACME_KEY})
    settings = {"allow_loopback": True, "backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "timeout_seconds": 2.0}
    settings.update(webhooks)
    config = gateway_config(
        [channel],
        workdir,
        webhooks=WebhooksConfig(**settings),
        events=EventsConfig(heartbeat_seconds=0.2, check_seconds=0.05),
        tokens=(Token(name="tester", key_sha256=hash_key(TEST_TOKEN), webhook_url=hook_url, webhook_secret=SECRET),),
    )
    if store_url is not None:
        config = attrs.evolve(config, store=StoreConfig(url=store_url, results_dir=str(workdir / "results")))
    return config


@contextlib.asynccontextmanager
async def notify_gateway(pm: Any, config: Any, *, poller: bool = True) -> AsyncIterator[RunningGateway]:
    async with running_gateway(config, pm=pm, poller=poller) as gateway:
        yield gateway
