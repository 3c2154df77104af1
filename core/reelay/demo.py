"""``reelay demo``: the gateway on its embedded default, no keys, no network.

Every installed plugin's emulator is started on loopback and configured as a
channel; the store is SQLite; a demo token is printed with ready-to-paste
commands.

A demo's poller polls its tasks against its own emulators, so two demos on
one store would fail each other's tasks: a demo holds an advisory lock next
to its SQLite file for as long as it runs (:func:`demo_store_lock`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pluggy
from aiohttp import web

from .config import Config, PollerConfig, ServerConfig, StoreConfig, hash_key
from .emulation import serve_app
from .engine import Dispatcher
from .http.app import create_app
from .http.serving import run
from .models import Channel, ModelSpec, Token
from .plugins import Registry, make_plugin_manager
from .store import open_store
from .store.sqlite import SQLiteStore

DEMO_TOKEN = "sk-reelay-demo"


class DemoStoreBusy(Exception):
    """Another live demo uses the store; the message says which process and what to do."""


@contextlib.contextmanager
def demo_store_lock(store_url: str | None) -> Iterator[Path | None]:
    """Hold ``<store file>.demo-lock`` for the block; yields its path (None when there is nothing to lock).

    The lock is an ``flock`` on the file: the system lets it go when the
    process ends, however it ends, so a stale file never blocks a new demo.

    :raises DemoStoreBusy: another process holds it.
    """
    path = _sqlite_file(store_url)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no advisory locks
        path = None
    if path is None:
        yield None
        return
    lock_path = path.with_name(path.name + ".demo-lock")
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise DemoStoreBusy(
                f"another reelay demo (pid {holder}) is using the store {path}: stop it, or pass another --store"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield lock_path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sqlite_file(store_url: str | None) -> Path | None:
    if store_url is None:
        return None  # a fresh file of its own
    store = open_store(store_url)
    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        return Path(store.path).resolve()
    return None


@attrs.frozen
class DemoSetup:
    config: Config
    emulators: dict[str, str]  # emulator label -> base URL


@contextlib.asynccontextmanager
async def demo_environment(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    generation_seconds: float = 8.0,
    token: str = DEMO_TOKEN,
    store_url: str | None = None,
    results_dir: str | None = None,
    pm: pluggy.PluginManager | None = None,
) -> AsyncIterator[DemoSetup]:
    """Start every registered emulator and yield a config pointing at them."""
    registry = Registry.collect(pm or make_plugin_manager())
    workdir = Path(tempfile.mkdtemp(prefix="reelay-demo-"))
    channels, emulators = [], {}
    async with contextlib.AsyncExitStack() as stack:
        if store_url is None and results_dir is None:  # all of it throwaway: gone when the demo stops
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        for spec in registry.emulators:
            settings = spec.settings(generation_seconds=generation_seconds)
            base_url = await stack.enter_async_context(serve_app(spec.create_app(settings), host="127.0.0.1"))
            emulators[spec.label] = base_url
            channels.append(
                Channel(
                    name=f"demo-{spec.label}",
                    vendor=spec.vendor,
                    base_url=base_url,
                    models=spec.models,
                    credentials=dict(spec.credentials),
                    options=dict(spec.channel_options),
                    typical_seconds=generation_seconds,
                )
            )
        # On loopback (the default) the gateway's own address is public enough for the
        # emulators, so vendors that call back do (issue 18); bound wider, a guessed
        # address could be wrong for callers' content URLs, so the demo only polls.
        shown = f"[{host}]" if ":" in host else host
        public_url = f"http://{shown}:{port}" if host in ("127.0.0.1", "localhost", "::1") and port else None
        config = Config(
            server=ServerConfig(host=host, port=port, public_url=public_url),
            store=StoreConfig(
                url=store_url or f"sqlite:///{workdir / 'reelay.db'}",
                results_dir=results_dir or str(workdir / "results"),
            ),
            poller=PollerConfig(min_interval=0.5, max_interval=5.0),
            tokens=(Token(name="demo", key_sha256=hash_key(token)),),
            channels=tuple(channels),
        )
        yield DemoSetup(config, emulators)


def demo_banner(setup: DemoSetup, token: str, registry: Registry) -> str:
    base = f"http://{setup.config.server.host}:{setup.config.server.port}"
    lines = [
        f"Reelay demo gateway on {base} (emulated vendors, SQLite store, no keys needed)",
        "",
    ]
    if not setup.emulators:
        lines.append("No vendor plugin is installed: `pip install reelay-<vendor>`, then start again.")
    for label, url in setup.emulators.items():
        lines.append(f"  emulator {label:<12} {url}")
    lines += [
        "",
        "Set these to use the reelay CLI client against it:",
        f"  export REELAY_BASE_URL={base}",
        f"  export REELAY_API_KEY={token}",
        "",
    ]
    example = _example_model(registry)
    if example:
        lines += [
            "Try it:",
            f"  curl -s {base}/v1/video/generations -H 'Authorization: Bearer {token}' \\",
            "    -H 'Content-Type: application/json' \\",
            f'    -d \'{{"model": "{example}", "prompt": "a red fox running through snow", "duration": 5}}\'',
            f"  curl -s {base}/v1/videos/TASK_ID -H 'Authorization: Bearer {token}'",
            f"  curl -s -o fox.mp4 {base}/v1/videos/TASK_ID/content -H 'Authorization: Bearer {token}'",
            f"  reelay generate --model {example} --prompt 'a red fox' --wait -o fox.mp4",
            "",
        ]
    lines.append("Models: " + ", ".join(_model_label(registry.models[name]) for name in sorted(registry.models)))
    if any(not model.capabilities.text_to_video for model in registry.models.values()):
        lines.append("  (image-to-video only: send an image with --image, or image / input_reference)")
    return "\n".join(lines)


def _model_label(model: ModelSpec) -> str:
    if model.capabilities.text_to_video:
        return model.name
    return f"{model.name} (image-to-video only)"


def _example_model(registry: Registry) -> str | None:
    """A text-to-video model for the printed examples (the first by name: stable across runs)."""
    text_models = sorted(m.name for m in registry.models.values() if m.capabilities.text_to_video)
    return text_models[0] if text_models else None


def run_demo(
    host: str,
    port: int,
    generation_seconds: float,
    token: str,
    store_url: str | None,
    pm: pluggy.PluginManager | None = None,
) -> None:
    """Run the demo gateway until interrupted."""

    async def make_app() -> web.Application:
        stack = contextlib.AsyncExitStack()
        setup = await stack.enter_async_context(
            demo_environment(
                host=host, port=port, generation_seconds=generation_seconds, token=token, store_url=store_url, pm=pm
            )
        )
        dispatcher = Dispatcher(setup.config, pm=pm)
        app = create_app(setup.config, dispatcher=dispatcher)

        async def close_emulators(_: web.Application) -> None:
            await stack.aclose()

        app.on_cleanup.append(close_emulators)
        banner.append(demo_banner(setup, token, dispatcher.registry))
        return app

    banner: list[str] = []  # printed once the gateway listens: a script may wait for it

    # As `reelay serve` serves: [server]'s slow-client timeouts (their defaults), SIGINT or SIGTERM to stop.
    run(make_app(), ServerConfig(host=host, port=port), lambda _url: print(*banner, flush=True))
