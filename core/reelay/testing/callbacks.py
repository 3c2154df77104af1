"""Vendor callbacks end to end: a gateway with a public URL, a receiver standing for a
callback's target, and the checks every plugin that calls back runs."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from ..config import ServerConfig
from ..emulation import EmulatorSpec, serve_app
from ..engine import Dispatcher
from ..http.app import create_app
from ..plugins import make_plugin_manager
from ..vendor import VendorPlugin
from .gateway import TEST_TOKEN, GatewayClient, RunningGateway, channel_for, gateway_config


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
