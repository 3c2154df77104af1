"""A kit for plugin authors: a real gateway on loopback, and a contract suite.

Subclass :class:`VendorContract` in your plugin's tests::

    from reelay.testing import VendorContract

    class TestAcmeContract(VendorContract):
        vendor = "acme"
        text_model = "acme-1"
        image_model = "acme-1"

Each test starts your plugin's emulator and a real Reelay gateway on
loopback with a channel pointing at it, then drives the gateway's HTTP API:
submit, every status mapped, progress never decreasing, failures mapped to
error codes, content download with ``Range``, fail-over between channels.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import attrs
import pluggy
import pytest

from ..config import Config, PollerConfig, ServerConfig, StoreConfig, hash_key
from ..emulation import EmulatorSettings, EmulatorSpec, Scenario, sample_asset, serve_app
from ..engine import Dispatcher
from ..http.app import create_app
from ..models import Channel, NormalizationPolicy, TaskStatus, Token
from ..plugins import Registry, make_plugin_manager

TEST_TOKEN = "sk-reelay-test-token"

__all__ = [
    "TEST_TOKEN",
    "GatewayClient",
    "RunningGateway",
    "VendorContract",
    "channel_for",
    "fast_poller",
    "running_gateway",
    "sample_image_data_uri",
]


def fast_poller() -> PollerConfig:
    """Poller settings for tests: polls every 50-200 ms."""
    return PollerConfig(min_interval=0.05, max_interval=0.2, lease_seconds=5.0, timeout_seconds=120.0)


def sample_image_data_uri() -> str:
    """A real 320x320 PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()


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
    config: Config, *, pm: pluggy.PluginManager | None = None, poller: bool = True, token: str = TEST_TOKEN
) -> AsyncIterator[RunningGateway]:
    """Run a real gateway on loopback for the duration of the block."""
    dispatcher = Dispatcher(config, pm=pm)
    app = create_app(config, dispatcher=dispatcher, poller=poller)
    async with serve_app(app) as base_url, aiohttp.ClientSession() as http:
        yield RunningGateway(base_url, dispatcher, GatewayClient(base_url, token, http), {})


def gateway_config(channels: Iterable[Channel], workdir: Path, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "server": ServerConfig(port=0),
        "store": StoreConfig(url=f"sqlite:///{workdir / 'reelay.db'}", results_dir=str(workdir / "results")),
        "poller": fast_poller(),
        "tokens": (Token(name="tester", key_sha256=hash_key(TEST_TOKEN)),),
        "channels": tuple(channels),
    }
    values.update(overrides)
    return Config(**values)


class VendorContract:
    """The contract every vendor plugin must pass against its emulator.

    Set ``vendor`` and the models to exercise; ``emulator`` picks one of
    several emulators a vendor registers (by :attr:`EmulatorSpec.name`).
    """

    vendor: ClassVar[str] = ""
    text_model: ClassVar[str | None] = None
    image_model: ClassVar[str | None] = None
    emulator: ClassVar[str | None] = None
    generation_seconds: ClassVar[float] = 0.6
    #: extra plugin objects to register (the core's own tests use this)
    plugins: ClassVar[tuple[object, ...]] = ()
    load_entry_points: ClassVar[bool] = True
    #: extra body fields for every submission (for example a size the model needs)
    extra_body: ClassVar[dict[str, Any]] = {}

    # ------------------------------------------------------------ fixtures

    @pytest.fixture
    def plugin_manager(self) -> pluggy.PluginManager:
        return make_plugin_manager(load_entry_points=self.load_entry_points, plugins=self.plugins)

    @pytest.fixture
    def emulator_spec(self, plugin_manager: pluggy.PluginManager) -> EmulatorSpec:
        registry = Registry.collect(plugin_manager)
        for spec in registry.emulators:
            if spec.vendor == self.vendor and (self.emulator is None or spec.label == self.emulator):
                return spec
        raise AssertionError(f"no emulator registered for vendor {self.vendor!r} ({self.emulator or 'any'})")

    @contextlib.asynccontextmanager
    async def gateway(
        self,
        plugin_manager: pluggy.PluginManager,
        spec: EmulatorSpec,
        workdir: Path,
        *,
        channels: int = 1,
        **settings: Any,
    ) -> AsyncIterator[RunningGateway]:
        emulator_settings: EmulatorSettings = spec.settings(generation_seconds=self.generation_seconds, **settings)
        async with serve_app(spec.create_app(emulator_settings)) as emulator_url:
            chans = [
                channel_for(spec, emulator_url, name=f"contract-{index}", priority=channels - index)
                for index in range(channels)
            ]
            config = gateway_config(chans, workdir)
            async with running_gateway(config, pm=plugin_manager) as running:
                running.emulators[spec.label] = emulator_url
                yield running

    def body(self, model: str | None, **fields: Any) -> dict[str, Any]:
        if model is None:
            pytest.skip("this vendor has no model for this case")
        return {"model": model, **self.extra_body, **fields}

    # ------------------------------------------------------------ the contract

    async def test_text_to_video_completes_and_downloads(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a red fox in the snow"))
            assert status == 200, task
            assert task["id"] == task["task_id"] and task["object"] == "video"
            assert task["status"] in ("queued", "in_progress") and task["progress"] == 0
            final, seen = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final
            statuses = {body["status"] for body in seen}
            assert statuses <= {s.value for s in TaskStatus}
            progress = [body["progress"] for body in seen]
            assert progress == sorted(progress), f"progress went down: {progress}"
            assert final["progress"] == 100
            assert final["url"].startswith(gw.base_url) and final["url"].endswith("/content")
            settings = emulator_spec.settings()
            code, headers, data = await gw.client.content(task["id"])
            # The emulator's clip for the task's duration and size (or its one fixed video).
            matching = settings.video_for(int(final["seconds"]), final.get("size"))
            assert code == 200 and data in (matching, settings.video)
            expected = data
            assert headers["Content-Type"].startswith("video/mp4")
            assert int(headers["Content-Length"]) == len(expected)
            code, headers, data = await gw.client.content(task["id"], range_="bytes=10-109")
            assert code == 206 and data == expected[10:110]
            assert headers["Content-Range"] == f"bytes 10-109/{len(expected)}"
            code, headers, data = await gw.client.content(task["id"], method="HEAD")
            assert code == 200 and data == b"" and int(headers["Content-Length"]) == len(expected)

    async def test_image_to_video_completes(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            body = self.body(self.image_model, prompt="make it move", image=sample_image_data_uri())
            status, task = await gw.client.submit(**body)
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final

    async def test_generation_failure_maps_to_error(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            prompt = f"a doomed fox {Scenario.FAIL.marker}"
            status, task = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "failed"
            assert final["error"]["code"] and final["error"]["message"]
            code, _, body = await gw.client.content(task["id"])
            assert code == 409, body

    async def test_blocked_generation_is_a_content_policy_failure(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            prompt = f"a filtered fox {Scenario.BLOCK.marker}"
            status, task = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "failed"
            assert final["error"]["code"] in ("content_policy_violation", "content_filtered"), final["error"]

    async def test_rejected_prompt_is_a_400(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            prompt = f"a forbidden fox {Scenario.REJECT.marker}"
            status, body = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 400, body
            assert body["error"]["code"] in ("content_policy_violation", "content_filtered"), body

    async def test_invalid_request_is_a_400_not_retried(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, channels=2) as gw:
            prompt = f"an invalid fox {Scenario.INVALID.marker}"
            status, body = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 400, body
            assert body["error"]["type"] == "invalid_request_error"

    async def test_transient_submission_failure_fails_over(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, channels=2, fail_submissions=1) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a resilient fox"))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed"

    async def test_every_channel_failing_is_a_502(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, fail_submissions=5) as gw:
            status, body = await gw.client.submit(**self.body(self.text_model, prompt="an unlucky fox"))
            assert status in (502, 503), body
            assert body["error"]["type"] == "upstream_error"
            for secret in emulator_spec.credentials.values():
                assert secret not in str(body)

    async def test_strict_policy_rejects_unoffered_duration(self, plugin_manager, emulator_spec, tmp_path):
        model = self.text_model
        registry = Registry.collect(plugin_manager)
        spec = registry.model(model) if model else None
        if spec is None or not spec.durations:
            pytest.skip("no text model with declared durations")
        offered = set(spec.durations) | {d for rule in spec.duration_rules for d in rule.allowed}
        odd = next(n for n in range(1, 100) if n not in offered)
        async with serve_app(emulator_spec.create_app(emulator_spec.settings(generation_seconds=0.1))) as url:
            channel = channel_for(emulator_spec, url, normalization=NormalizationPolicy.STRICT)
            async with running_gateway(gateway_config([channel], tmp_path), pm=plugin_manager) as gw:
                body = self.body(model, prompt="a precise fox")
                body.pop("seconds", None)
                status, answer = await gw.client.submit(**body, duration=odd)
                assert status == 400, answer
                for allowed in spec.durations:
                    assert str(allowed) in answer["error"]["message"]
