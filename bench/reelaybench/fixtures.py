"""What the cases start from: gateway configs, vendor jobs made through the plugin, pre-filled stores."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pluggy

from reelay.config import Config, load_config
from reelay.emulation import EmulatorSpec
from reelay.engine import Dispatcher
from reelay.models import Channel, ContentSource, ModelSpec, StatusUpdate, Task, TaskStatus, UnifiedRequest, VendorRef
from reelay.normalize import normalize
from reelay.plugins import Registry, make_plugin_manager
from reelay.store.codec import COLUMNS, to_row
from reelay.store.sqlite import SQLiteStore

TOKEN = "sk-reelay-bench-token"
OWNER = "bench"
ID_PREFIX = "video_bench"  # + 19 digits: as long as a real id (24 characters after "video_")
PROMPT = "a red fox running through snow at dawn, cinematic"


def task_id(index: int) -> str:
    return f"{ID_PREFIX}{index:019d}"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def write_config(
    path: Path,
    *,
    port: int,
    store: Path,
    channels: Iterable[dict[str, Any]],
    poller: dict[str, Any] | None = None,
    level: str = "info",
    keep_results: bool = True,
    metrics: bool = True,
    prices: Iterable[dict[str, Any]] = (),
    quota: str | None = None,
    public_url: str | None = None,
) -> Path:
    """A gateway TOML config: one bench token, the given channels (``metrics``: ``[metrics] enabled``;
    ``prices``: ``[[prices]]`` tables; ``quota``: the token's starting credit, absent = unlimited;
    ``public_url``: ``[server] public_url``, which vendors that call back are given)."""
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        *([f"public_url = {_toml(public_url)}"] if public_url else []),
        "[store]",
        f"url = {_toml('sqlite:///' + str(store))}",
        f"results_dir = {_toml(str(store.parent / 'results'))}",
        f"keep_results = {_toml(keep_results)}",
        "[poller]",
    ]
    lines += [f"{key} = {_toml(value)}" for key, value in (poller or {"enabled": False}).items()]
    lines += ["[metrics]", f"enabled = {_toml(metrics)}"]
    lines += ["[logging]", f'level = "{level}"', "[[tokens]]", f'name = "{OWNER}"', f'key = "{TOKEN}"']
    if quota is not None:
        lines.append(f"quota = {_toml(quota)}")
    for channel in channels:
        lines.append("[[channels]]")
        lines += [f"{key} = {_toml(value)}" for key, value in channel.items()]
    for price in prices:
        lines.append("[[prices]]")
        lines += [f"{key} = {_toml(value)}" for key, value in price.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def emulator_specs(pm: pluggy.PluginManager | None = None) -> dict[str, EmulatorSpec]:
    return {spec.vendor: spec for spec in Registry.collect(pm or make_plugin_manager()).emulators}


def channel_table(spec: EmulatorSpec, base_url: str, **extra: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": f"bench-{spec.label}",
        "vendor": spec.vendor,
        "base_url": base_url,
        "credentials": dict(spec.credentials),
    }
    if spec.models:
        table["models"] = list(spec.models)
    if spec.channel_options:
        table["options"] = dict(spec.channel_options)
    table.update(extra)
    return table


def calls_back(vendor: str) -> bool:
    """Whether ``vendor``'s plugin says it calls back (``VendorSpec.callbacks``)."""
    spec = Registry.collect(plugin_manager_for(vendor)).vendors.get(vendor)
    return bool(spec is not None and spec.callbacks)


def plugin_manager_for(vendor: str) -> pluggy.PluginManager:
    if vendor == "acme":
        import acme

        return make_plugin_manager(load_entry_points=False, plugins=[acme])
    return make_plugin_manager()


def text_model(registry: Registry, vendor: str) -> ModelSpec:
    models = [m for m in registry.models_of(vendor) if m.capabilities.text_to_video]
    if not models:
        raise RuntimeError(f"vendor {vendor!r} has no text-to-video model")
    return models[0]


@attrs.define
class VendorHarness:
    """The gateway's plugin, driven in-process to make vendor jobs fast (not what is measured)."""

    config: Config
    pm: pluggy.PluginManager
    channel: Channel
    model: ModelSpec
    dispatcher: Dispatcher

    @classmethod
    def from_config(cls, config_path: Path, vendor: str) -> VendorHarness:
        config = load_config(config_path)
        pm = plugin_manager_for(vendor)
        dispatcher = Dispatcher(config, pm=pm)
        channel = next(iter(dispatcher.channels.values()))
        return cls(config, pm, channel, text_model(dispatcher.registry, vendor), dispatcher)

    def request_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model.name, "prompt": PROMPT}
        if self.model.default_duration is not None:
            body["duration"] = self.model.default_duration
        return body

    async def submit_jobs(
        self, count: int, concurrency: int = 32, *, callbacks: bool = False
    ) -> list[tuple[Task, VendorRef]]:
        """``count`` vendor jobs through the plugin's own submit hook, each with its task.

        ``callbacks``: each request carries a callback URL the engine made, as a
        submission through the gateway does (it needs ``[server] public_url``),
        its token written into the config's store; fill that store with
        ``fill_store(..., fresh=False)`` to keep the tokens.
        """
        unified = UnifiedRequest(model=self.model.name, prompt=PROMPT, duration=self.model.default_duration)
        policy = self.config.policy_for(self.channel)
        made: list[tuple[Task, VendorRef]] = []
        next_index = iter(range(count))
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(aiohttp.ClientSession())
            if callbacks:
                await stack.enter_async_context(self.dispatcher)  # opens the store the tokens go to
                if self.dispatcher.context.callback_url is None:
                    raise RuntimeError("no callback URLs: the config needs [server] public_url")

            async def worker() -> None:
                for index in next_index:
                    request = normalize(unified, self.model, policy, task_id(index))
                    if callbacks:
                        url = await self.dispatcher.context.callback_url(request.public_id, self.channel)
                        request = attrs.evolve(request, callback_url=url)
                    payload = self.pm.hook.reelay_build_payload(request=request, model=self.model, channel=self.channel)
                    ref = await self.pm.hook.reelay_submit(
                        payload=payload, request=request, channel=self.channel, http=http
                    )
                    task = Task(
                        id=request.public_id,
                        owner=OWNER,
                        model=self.model.name,
                        vendor=self.model.vendor,
                        channel=self.channel.name,
                        seconds=request.duration,
                        size=request.size,
                        prompt=request.prompt,
                        adjustments=request.adjustments,
                        request=request,
                        vendor_ref=ref,
                    )
                    made.append((task, ref))

            await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
        made.sort(key=lambda pair: pair[0].id)
        return made

    async def status_of(self, task: Task) -> StatusUpdate:
        async with aiohttp.ClientSession() as http:
            payload = await self.pm.hook.reelay_fetch_status(task=task, channel=self.channel, http=http)
            return self.pm.hook.reelay_map_status(payload=payload, task=task, channel=self.channel)

    async def content_source(self, task: Task) -> ContentSource:
        async with aiohttp.ClientSession() as http:
            return await self.pm.hook.reelay_open_content(task=task, channel=self.channel, http=http, variant="video")

    def min_polls(self, task: Task, done_at: float) -> int:
        """The fewest polls the dispatcher's schedule allows before it sees a job done at ``done_at``."""
        at = task.created_at + self.dispatcher.first_poll_delay(self.model, self.channel)
        polls = 1
        while at < done_at and polls < 10_000:
            at += self.dispatcher.next_poll_delay(task, at)
            polls += 1
        return polls


def completed_template(channel: str, model: str, vendor: str, url: str = "http://127.0.0.1:9/cdn/bench.mp4") -> Task:
    """A completed task as the poller leaves it (the status-read cases serve these)."""
    from reelay.models import VideoResult

    now = time.time()
    return Task(
        id=task_id(0),
        owner=OWNER,
        model=model,
        vendor=vendor,
        channel=channel,
        status=TaskStatus.COMPLETED,
        progress=100,
        created_at=now - 120,
        updated_at=now - 20,
        completed_at=now - 20,
        seconds=5,
        size="16:9",
        prompt=PROMPT,
        vendor_ref=VendorRef(id="874201938475610234", data={"family": "text2video"}),
        result=VideoResult(url=url, duration=5.0, extra={"final_unit_deduction": "1"}),
    )


def create_schema(path: Path) -> None:
    async def make() -> None:
        store = SQLiteStore(str(path))
        await store.open()
        await store.close()

    asyncio.run(make())


def fill_store(
    path: Path,
    tasks: Iterable[Task] | None = None,
    *,
    template: Task | None = None,
    count: int = 0,
    fresh: bool = True,
) -> int:
    """Rows straight into the store's schema: ``tasks`` as given, or ``count`` copies of ``template``.

    Copies get ids ``task_id(0..count-1)``; rows go in with ``executemany``,
    not through the API. ``fresh``: into a new store (else into the one at
    ``path``, which has its schema, keeping what it holds).
    """
    if fresh:
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        create_schema(path)
    insert = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        written = 0
        if tasks is not None:
            rows = [to_row(task) for task in tasks]
            db.executemany(insert, rows)
            written += len(rows)
        if template is not None and count:
            base = list(to_row(template))

            def copies() -> Iterator[tuple[Any, ...]]:
                for index in range(count):
                    base[0] = task_id(index)
                    yield tuple(base)

            db.executemany(insert, copies())
            written += count
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return written


def active_count(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM tasks WHERE status IN ('queued', 'in_progress')").fetchone()[0]
    finally:
        db.close()


def completed_times(path: Path) -> dict[str, tuple[str, float | None, str | None]]:
    """task id -> (status, completed_at, vendor_ref JSON)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT id, status, completed_at, vendor_ref FROM tasks").fetchall()
    finally:
        db.close()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}
