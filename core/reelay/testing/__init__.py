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
error codes, content download with ``Range``, fail-over between channels,
cancel (or its refusal) as the vendor declares it, and first and last
frames where the model takes them.

What differs between vendors is a setting, not an override:
``moderation_after_acceptance`` is the code a task fails with when the
vendor's moderation blocks it after accepting it (None when it moderates only
at submission). To run the suite against an emulator your plugin does not
register (another process, a vendor's sandbox), set ``base_url`` (or
override the ``outside_base_url`` fixture to start it) and ``credentials``;
the cases that need to steer the emulator's failures (``fail_submissions``)
are then skipped, and the prompt markers of
:class:`reelay.emulation.Scenario` must be honoured by that emulator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import attrs
import pluggy
import pytest
from aiohttp import web

from ..config import Config, PollerConfig, ServerConfig, StoreConfig, hash_key
from ..emulation import EmulatorSettings, EmulatorSpec, Scenario, sample_asset, serve_app
from ..engine import Dispatcher
from ..errors import UpstreamError
from ..http.app import create_app
from ..http.serving import serving
from ..models import Channel, ModelSpec, NormalizationPolicy, StatusUpdate, TaskStatus, Token, UnifiedRequest
from ..normalize import normalize
from ..plugins import Registry, make_plugin_manager
from ..statuses import UNKNOWN_STATUS, StatusTable
from ..vendor import VendorPlugin

TEST_TOKEN = "sk-reelay-test-token"

__all__ = [
    "TEST_TOKEN",
    "CallbackRun",
    "GatewayClient",
    "RunningGateway",
    "VendorContract",
    "callback_gateway",
    "callback_receiver",
    "callback_run",
    "channel_for",
    "check_callbacks_end_tasks",
    "check_foreign_callbacks_change_nothing",
    "check_status_table",
    "fast_poller",
    "free_port",
    "gateway_config",
    "interrupted_submission",
    "mp4_facts",
    "outside_channel",
    "png_data_uri",
    "running_gateway",
    "sample_image_data_uri",
]


def fast_poller() -> PollerConfig:
    """Poller settings for tests: polls every 50-200 ms."""
    return PollerConfig(min_interval=0.05, max_interval=0.2, lease_seconds=5.0, timeout_seconds=120.0)


def sample_image_data_uri() -> str:
    """A real 320x320 PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()


def png_data_uri(width: int, height: int, rgb: tuple[int, int, int] = (200, 80, 40)) -> str:
    """A real one-colour PNG of ``width`` x ``height`` as a ``data:`` URI (a second image, an odd shape)."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def mp4_facts(data: bytes) -> tuple[float, int, int]:
    """Duration (from ``mvhd``) and the video track's width and height (from ``tkhd``) of an MP4.

    Enough to check that an emulator served a clip of the asked length and
    orientation (see :func:`reelay.emulation.orientation`).
    """

    def boxes(start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
        while start + 8 <= end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            yield kind, start + 8, start + size
            start += size

    duration = width = height = None
    for kind, body, end in boxes(0, len(data)):
        if kind != b"moov":
            continue
        for inner, inner_body, inner_end in boxes(body, end):
            if inner == b"mvhd":
                timescale, length = struct.unpack(">II", data[inner_body + 12 : inner_body + 20])  # version 0
                duration = length / timescale
            elif inner == b"trak":
                for leaf, leaf_body, _ in boxes(inner_body, inner_end):
                    if leaf == b"tkhd":
                        w, h = struct.unpack(">II", data[leaf_body + 76 : leaf_body + 84])  # 16.16 fixed point
                        if w and h:
                            width, height = w >> 16, h >> 16
    if duration is None or width is None or height is None:
        raise ValueError("not an MP4 with a moov header and a video track")
    return duration, width, height


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


def free_port() -> int:
    """A TCP port free on loopback now, for a server whose address must be known before it starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def callback_receiver(answers: Iterable[int] = ()) -> tuple[web.Application, list[Any]]:
    """An application standing for a callback's receiver: ``POST /cb``.

    :param answers: the HTTP statuses of its first answers, in order; 200 after them.
    :return: the application, and the list the JSON bodies it receives are appended to.
    """
    queued = list(answers)
    received: list[Any] = []

    async def take(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=queued.pop(0) if queued else 200)

    app = web.Application()
    app.router.add_post("/cb", take)
    return app, received


@contextlib.asynccontextmanager
async def callback_gateway(
    plugin: VendorPlugin,
    workdir: Path,
    *,
    callbacks: bool = True,
    emulator: EmulatorSpec | None = None,
    generation_seconds: float = 2.0,
    typical_seconds: float = 4.0,
) -> AsyncIterator[tuple[RunningGateway, web.Application]]:
    """A real gateway on loopback whose one channel is a plugin's emulator, and that emulator.

    With ``callbacks``, the gateway's ``[server] public_url`` is its own
    address, so a vendor that calls back (``VendorSpec.callbacks``) is handed
    a callback URL with each submission; without, the gateway only polls.

    :param plugin: the plugin, alone in the gateway.
    :param workdir: where the gateway keeps its store (made when missing).
    :param emulator: which of the plugin's emulators; its first by default.
    :param generation_seconds: how long each emulated job takes.
    :param typical_seconds: the channel's typical generation time, which paces its polls.
    :return: the gateway, and the emulator's application (its state holds what it saw and sent).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    pm = make_plugin_manager(load_entry_points=False, plugins=[plugin])
    spec = emulator or plugin.emulators[0]
    app = spec.create_app(spec.settings(generation_seconds=generation_seconds))
    async with serve_app(app) as emulator_url:
        port = free_port()
        public = f"http://127.0.0.1:{port}" if callbacks else None
        channel = channel_for(spec, emulator_url, typical_seconds=typical_seconds)
        config = gateway_config([channel], workdir, server=ServerConfig(port=port, public_url=public))
        dispatcher = Dispatcher(config, pm=pm)
        gateway = create_app(config, dispatcher=dispatcher)
        async with serve_app(gateway, port=port) as base_url, aiohttp.ClientSession() as http:
            client = GatewayClient(base_url, TEST_TOKEN, http)
            yield RunningGateway(base_url, dispatcher, client, {spec.label: emulator_url}), app


@attrs.frozen
class CallbackRun:
    """What :func:`callback_run` saw.

    :param task: the task's final object, as the gateway answered it.
    :param emulator: the emulator's application (its state holds the callbacks posted and the polls answered).
    :param completed_at: when the gateway stored the task as ended (``time.time()``).
    """

    task: dict[str, Any]
    emulator: web.Application
    completed_at: float


async def callback_run(
    plugin: VendorPlugin,
    workdir: Path,
    *,
    callbacks: bool,
    emulator: EmulatorSpec | None = None,
    generation_seconds: float = 2.0,
    typical_seconds: float = 4.0,
    **request: Any,
) -> CallbackRun:
    """Submit one task (``request``: its body, ``model`` included) through :func:`callback_gateway`
    (which takes the other arguments), and wait for its end.

    Compare a run with ``callbacks`` and one without: with them the task
    should end as soon as the emulator posts its last callback, with fewer
    polls.
    """
    options = {"emulator": emulator, "generation_seconds": generation_seconds, "typical_seconds": typical_seconds}
    async with callback_gateway(plugin, workdir, callbacks=callbacks, **options) as (gateway, app):
        status, task = await gateway.client.submit(**request)
        assert status == 200, task
        final, _ = await gateway.client.wait(task["id"], timeout=20)
        stored = await gateway.dispatcher.store.get(task["id"])
    assert stored is not None and stored.completed_at is not None, stored
    return CallbackRun(final, app, stored.completed_at)


async def check_callbacks_end_tasks(
    plugin: VendorPlugin, workdir: Path, state: web.AppKey[Any], final: str, **request: Any
) -> None:
    """Check that a plugin's callbacks end its tasks at once, with fewer polls than without them.

    Two :func:`callback_run` s of ``request`` (its body, ``model`` included;
    ``generation_seconds``... as :func:`callback_run` takes them): with
    callbacks, the task completes within 0.2 s of the emulator's post of the
    vendor's ``final`` status, which the gateway answers 200; without, nothing
    is posted, and the emulator answers more status queries.

    :param state: the key of the emulator's state on its application; the
        state keeps its :class:`~reelay.emulation.CallbackSender` as
        ``callbacks`` and counts the status queries it answers as ``queries``.
    """
    called = await callback_run(plugin, workdir / "with", callbacks=True, **request)
    assert called.task["status"] == "completed", called.task
    sender = called.emulator[state].callbacks
    [done] = [sent for sent in sender.sent if sent.status == final]
    assert done.answer == 200, sender.sent
    assert called.completed_at - done.at < 0.2, "the task ended on a poll, not on the callback"
    polled = await callback_run(plugin, workdir / "without", callbacks=False, **request)
    assert polled.task["status"] == "completed" and polled.emulator[state].callbacks.sent == []
    assert called.emulator[state].queries < polled.emulator[state].queries


async def check_foreign_callbacks_change_nothing(
    plugin: VendorPlugin, workdir: Path, state: web.AppKey[Any], foreign: Mapping[str, Any], **request: Any
) -> None:
    """Check that bodies a plugin must refuse, posted to a task's real callback URL, are JSON 400s.

    Unreadable JSON and ``foreign`` (a well-formed body about another task)
    are answered ``400 {"error": {"code": "invalid_callback"}}``, the task
    stays as it was, and it still completes. ``state`` as for
    :func:`check_callbacks_end_tasks`; the emulated job takes a second.
    """
    async with callback_gateway(plugin, workdir, generation_seconds=1.0) as (gateway, emulator):
        client = gateway.client
        _, task = await client.submit(**request)
        [url] = emulator[state].callbacks.urls.values()
        for body in (b"{not json", json.dumps(foreign).encode()):
            async with client.http.post(url, data=body) as answer:
                assert answer.status == 400, await answer.text()
                assert (await answer.json())["error"]["code"] == "invalid_callback"
        assert (await client.get(task["id"]))["status"] in ("queued", "in_progress")
        final, _ = await client.wait(task["id"], timeout=20)
        assert final["status"] == "completed", final


def check_status_table(table: StatusTable, payload_for: Any, map_status: Any) -> None:
    """Check a plugin's status mapping against its whole :class:`~reelay.StatusTable`.

    :param payload_for: ``payload_for(value)`` is a vendor answer carrying the status ``value``.
    :param map_status: ``map_status(payload)`` is the plugin's :class:`~reelay.StatusUpdate` for it.

    Every value must map to its table entry (a terminal one never to a poll
    failure), and a value outside the table must be a transient failure with
    code ``unknown_status``, never the end of the task.
    """
    assert table.statuses, f"{table.vendor} declares no statuses"
    for value, expected in table.statuses.items():
        update = map_status(payload_for(value))
        assert isinstance(update, StatusUpdate), f"{table.vendor} {value!r}: {update!r}"
        assert update.status is expected, f"{table.vendor} {value!r} maps to {update.status}, not {expected}"
        if expected is TaskStatus.FAILED:
            assert update.error is not None and update.error.code, f"{table.vendor} {value!r} fails without a code"
    mapped = set(table.statuses.values())
    for needed in (TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED):
        assert needed in mapped, f"{table.vendor} maps no status to {needed.value}"
    try:
        update = map_status(payload_for("no-such-status"))
    except UpstreamError as error:
        assert error.retryable and error.code == UNKNOWN_STATUS, error
    else:
        raise AssertionError(f"{table.vendor} read an unknown status as {update!r}")


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
    #: the error code of a task the vendor's moderation blocks after accepting it
    #: (``[emulate:block]``); None when the vendor moderates only at submission
    moderation_after_acceptance: ClassVar[str | None] = "content_policy_violation"
    #: an emulator the plugin does not register: its origin and the credentials it takes
    #: (or override the ``outside_base_url`` fixture to start one)
    base_url: ClassVar[str | None] = None
    credentials: ClassVar[Mapping[str, str]] = {}
    _outside_url: str | None = None

    # ------------------------------------------------------------ fixtures

    @pytest.fixture
    def plugin_manager(self) -> pluggy.PluginManager:
        return make_plugin_manager(load_entry_points=self.load_entry_points, plugins=self.plugins)

    @pytest.fixture
    def outside_base_url(self) -> str | None:
        """The origin of an emulator the plugin does not register: ``base_url`` by default.

        Override it with a fixture that starts one (another process, a sandbox) and returns its origin.
        """
        return self.base_url

    @pytest.fixture
    def emulator_spec(self, plugin_manager: pluggy.PluginManager, outside_base_url: str | None) -> EmulatorSpec | None:
        """The registered emulator the suite starts; None with an outside emulator."""
        self._outside_url = outside_base_url
        if outside_base_url is not None:
            return None
        registry = Registry.collect(plugin_manager)
        for spec in registry.emulators:
            if spec.vendor == self.vendor and (self.emulator is None or spec.label == self.emulator):
                return spec
        raise AssertionError(f"no emulator registered for vendor {self.vendor!r} ({self.emulator or 'any'})")

    @contextlib.asynccontextmanager
    async def gateway(
        self,
        plugin_manager: pluggy.PluginManager,
        spec: EmulatorSpec | None,
        workdir: Path,
        *,
        channels: int = 1,
        normalization: NormalizationPolicy | None = None,
        **settings: Any,
    ) -> AsyncIterator[RunningGateway]:
        """A gateway with ``channels`` channels on the emulator (started here unless it is outside)."""
        if spec is None:
            if settings.get("fail_submissions"):
                pytest.skip("an outside emulator cannot be told to fail submissions")
            outside_url = self._outside_url
            assert outside_url is not None
            chans = [
                outside_channel(
                    self.vendor,
                    outside_url,
                    self.credentials,
                    name=f"contract-{index}",
                    priority=channels - index,
                    normalization=normalization,
                )
                for index in range(channels)
            ]
            async with running_gateway(gateway_config(chans, workdir), pm=plugin_manager) as running:
                running.emulators["outside"] = outside_url
                yield running
            return
        settings.setdefault("generation_seconds", self.generation_seconds)
        emulator_settings: EmulatorSettings = spec.settings(**settings)
        async with serve_app(spec.create_app(emulator_settings)) as emulator_url:
            chans = [
                channel_for(
                    spec,
                    emulator_url,
                    name=f"contract-{index}",
                    priority=channels - index,
                    normalization=normalization,
                )
                for index in range(channels)
            ]
            config = gateway_config(chans, workdir)
            async with running_gateway(config, pm=plugin_manager) as running:
                running.emulators[spec.label] = emulator_url
                yield running

    def model_spec(self, plugin_manager: pluggy.PluginManager, model: str | None) -> ModelSpec:
        spec = Registry.collect(plugin_manager).model(model) if model else None
        if spec is None:
            pytest.skip("this vendor has no model for this case")
        return spec

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
            code, headers, data = await gw.client.content(task["id"])
            if emulator_spec is not None:  # an outside emulator's video is its own
                # The emulator's clip for the task's duration and size (or its one fixed video).
                settings = emulator_spec.settings()
                matching = settings.video_for(int(final["seconds"]), final.get("size"))
                assert data in (matching, settings.video)
            assert code == 200 and len(data) > 110
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
            if self.moderation_after_acceptance is None:
                pytest.skip("this vendor moderates only at submission")
            prompt = f"a filtered fox {Scenario.BLOCK.marker}"
            status, task = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "failed"
            assert final["error"]["code"] == self.moderation_after_acceptance, final["error"]

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
            secrets = emulator_spec.credentials if emulator_spec is not None else self.credentials
            for secret in secrets.values():
                assert secret not in str(body)

    async def test_strict_policy_rejects_unoffered_duration(self, plugin_manager, emulator_spec, tmp_path):
        spec = self.model_spec(plugin_manager, self.text_model)
        if not spec.durations:
            pytest.skip("no text model with declared durations")
        offered = set(spec.durations) | {d for rule in spec.duration_rules for d in rule.allowed}
        offered |= {d for rules in spec.inputs for d in rules.durations or ()}
        odd = next(n for n in range(1, 100) if n not in offered)
        strict = NormalizationPolicy.STRICT
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, normalization=strict) as gw:
            body = self.body(spec.name, prompt="a precise fox")
            body.pop("seconds", None)
            status, answer = await gw.client.submit(**body, duration=odd)
            assert status == 400, answer
            for allowed in spec.durations:
                assert str(allowed) in answer["error"]["message"]

    async def test_cancel_as_the_vendor_declares(self, plugin_manager, emulator_spec, tmp_path):
        vendor = Registry.collect(plugin_manager).vendors[self.vendor]
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, generation_seconds=30.0) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a fox to stop"))
            assert status == 200, task
            code, answer = await gw.client.request("POST", f"/v1/videos/{task['id']}/cancel")
            if not vendor.can_cancel:
                assert code == 400 and answer["error"]["code"] == "cancel_not_supported", answer
                return
            assert code == 200 and answer["status"] == "cancelled", answer
            await asyncio.sleep(0.3)  # polls that were due must not bring it back
            assert (await gw.client.get(task["id"]))["status"] == "cancelled"

    async def test_first_and_last_frame_complete(self, plugin_manager, emulator_spec, tmp_path):
        spec = self.model_spec(plugin_manager, self.image_model)
        if not spec.capabilities.end_frame:
            pytest.skip(f"{spec.name} takes no last frame")
        first, last = png_data_uri(640, 360), png_data_uri(640, 360, rgb=(30, 60, 200))
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            body = self.body(spec.name, prompt="from dawn to dusk", images=[first, last])
            status, task = await gw.client.submit(**body)
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final
