"""A real gateway on loopback for tests: its configuration, channels pointing at emulators,
a client, an interrupted submission."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pluggy

from ..config import Config, ServerConfig, StoreConfig, hash_key
from ..emulation import EmulatorSpec
from ..engine import Dispatcher
from ..http.app import create_app
from ..http.serving import serving
from ..models import Channel, TaskStatus, Token, UnifiedRequest
from ..normalize import normalize
from .media import fast_poller

TEST_TOKEN = "sk-reelay-test-token"


def outside_channel(
    vendor: str, base_url: str, credentials: Mapping[str, str], name: str = "outside", **overrides: Any
) -> Channel:
    """A channel pointing at an emulator (or sandbox) the plugin did not register."""
    return Channel(name=name, vendor=vendor, base_url=base_url, credentials=dict(credentials), **overrides)


def channel_for(spec: EmulatorSpec, base_url: str, name: str | None = None, **overrides: Any) -> Channel:
    """A channel pointing at a running emulator."""
    values: dict[str, Any] = {
        "name": name or f"test-{spec.label}",
        "vendor": spec.vendor,
        "base_url": base_url,
        "models": spec.models,
        "credentials": dict(spec.credentials),
        "options": dict(spec.channel_options),
    }
    values.update(overrides)
    return Channel(**values)


@attrs.define
class GatewayClient:
    """A small client for the gateway's API, as a test caller would use it."""

    base_url: str
    token: str
    http: aiohttp.ClientSession

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if "json" in kwargs:  # streamed, as large base64 bodies should be
            kwargs["data"] = io.BytesIO(json.dumps(kwargs.pop("json")).encode())
            headers["Content-Type"] = "application/json"
        async with self.http.request(method, self.base_url + path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None)
            return response.status, body

    async def submit(self, **body: Any) -> tuple[int, Any]:
        return await self.request("POST", "/v1/video/generations", json=body)

    async def get(self, task_id: str) -> dict[str, Any]:
        status, body = await self.request("GET", f"/v1/videos/{task_id}")
        assert status == 200, body
        return body

    async def wait(self, task_id: str, timeout: float = 20.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Poll until the task ends; returns the final object and every object seen."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = await self.get(task_id)
            seen.append(body)
            if TaskStatus(body["status"]).is_terminal:
                return body, seen
            await asyncio.sleep(0.05)
        raise AssertionError(f"task {task_id} did not end within {timeout}s; last: {seen[-1] if seen else None}")

    async def content(
        self, task_id: str, *, range_: str | None = None, method: str = "GET", variant: str | None = None
    ):
        headers = dict(self.headers)
        if range_:
            headers["Range"] = range_
        params = {"variant": variant} if variant else None
        async with self.http.request(
            method, f"{self.base_url}/v1/videos/{task_id}/content", headers=headers, params=params
        ) as response:
            return response.status, dict(response.headers), await response.read()


@attrs.define
class RunningGateway:
    base_url: str
    dispatcher: Dispatcher
    client: GatewayClient
    emulators: dict[str, str]


@contextlib.asynccontextmanager
async def running_gateway(
    config: Config,
    *,
    pm: pluggy.PluginManager | None = None,
    poller: bool = True,
    token: str = TEST_TOKEN,
    config_path: str | Path | None = None,
) -> AsyncIterator[RunningGateway]:
    """Run a real gateway on loopback for the duration of the block (``config_path``: the file
    ``config`` was read from, for reloads)."""
    dispatcher = Dispatcher(config, pm=pm, config_path=config_path)
    app = create_app(config, dispatcher=dispatcher, poller=poller)
    async with serving(app, config.server) as base_url, aiohttp.ClientSession() as http:
        yield RunningGateway(base_url, dispatcher, GatewayClient(base_url, token, http), {})


async def interrupted_submission(
    config: Config,
    unified: UnifiedRequest,
    *,
    pm: pluggy.PluginManager | None = None,
    channel: str | None = None,
    reach_vendor: bool = True,
) -> str:
    """Leave the store as a gateway killed mid-submission leaves it; returns the task's id.

    The task is recorded as a submission records it, sent to the vendor (unless
    ``reach_vendor`` is False: the gateway died before the request left), and
    the vendor's reference is dropped, as if the gateway died before saving
    it; the submission's grace time is then made to have passed. Start a
    gateway on the same ``config`` afterwards to see what it makes of the task.
    """
    dispatcher = Dispatcher(config, pm=pm)
    await dispatcher.start()
    try:
        token = config.tokens[0]
        model, channels = dispatcher.resolve_model(unified.model, token)
        target = dispatcher.channels[channel] if channel else channels[0]
        request = normalize(
            unified, model, config.policy_for(target), public_id=f"video_interrupted{int(time.time() * 1e6)}"
        )
        task = await dispatcher.submitter.record(None, token, model, target, request)
        if reach_vendor:
            payload = dispatcher.pm.hook.reelay_build_payload(request=request, model=model, channel=target)
            await dispatcher.submitter.send(payload, request, target)  # the vendor has the job; we never hear of it
        task.next_poll_at = 0.0
        await dispatcher.store.save(task)
        return task.id
    finally:
        await dispatcher.stop()


def gateway_config(channels: Iterable[Channel], workdir: Path, **overrides: Any) -> Config:
    """A gateway configuration for tests: SQLite in ``workdir``, a fast poller, :data:`TEST_TOKEN`."""
    values: dict[str, Any] = {
        "server": ServerConfig(port=0),
        "store": StoreConfig(url=f"sqlite:///{workdir / 'reelay.db'}", results_dir=str(workdir / "results")),
        "poller": fast_poller(),
        "tokens": (Token(name="tester", key_sha256=hash_key(TEST_TOKEN)),),
        "channels": tuple(channels),
    }
    values.update(overrides)
    return Config(**values)
