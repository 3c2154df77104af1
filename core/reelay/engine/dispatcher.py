"""The dispatcher: the engine's parts composed behind one object.

Usable as a library: ``async with Dispatcher(config) as dispatcher: ...``, or
mounted into an aiohttp application with :func:`reelay.http.app.setup_routes`.

Each job lives in its own part, reachable as an attribute:

- :class:`~reelay.engine.routing.Router` (``router``): tokens, models, channels and their order;
- :class:`~reelay.engine.submission.Submitter` (``submitter``): submission with fail-over;
- :class:`~reelay.engine.derived.DerivedTasks` (``derived``): remixes, extensions, edits;
- :class:`~reelay.engine.characters.Characters` (``characters``): characters and the requests using them;
- :class:`~reelay.engine.tracking.Tracker` (``tracker``): polling and settling tasks;
- :class:`~reelay.engine.recovery.Recovery` (``recovery``): interrupted submissions, found, resent or failed;
- :class:`~reelay.engine.schedule.Schedule` (``schedule``): the poll schedule, progress estimates;
- :class:`~reelay.engine.tasks.Tasks` (``tasks``): a caller's reads, lists, cancels, deletes;
- :class:`~reelay.engine.results.Results` (``results``): downloads and kept copies;
- :class:`~reelay.engine.webhooks.Webhooks` (``webhooks``): webhook events and their deliveries;
- :class:`~reelay.engine.watching.Watcher` (``watcher``): following a task as it changes (the event stream);
- :class:`~reelay.engine.callbacks.Callbacks` (``callbacks``): vendors calling back instead of waiting for polls;
- :class:`~reelay.engine.reloading.Reloading` (``reloading``): re-reading the configuration file.

They share an :class:`~reelay.engine.context.EngineContext` (``context``);
the dispatcher's methods hand each call to the part that does it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Generic, TypeVar, overload

import aiohttp
import pluggy

from ..config import Config, ConfigError, validate
from ..models import Channel, Character, ContentSource, ModelSpec, SourceVideo, Task, Token, UnifiedRequest
from ..plugins import Registry, make_plugin_manager
from ..store import Store, open_store
from .billing import Billing
from .breakers import Breakers
from .callbacks import Callbacks
from .calls import UpstreamCalls
from .characters import Characters
from .context import EngineContext
from .derived import DerivedTasks
from .events import Events
from .idempotency import Idempotency
from .keys import KeyRing
from .limits import RateLimitExceeded, RateLimits
from .metrics import MeteredStore, Metrics
from .recovery import Recovery
from .reloading import Reloading
from .results import KEEP_MISSING_WITHIN, LocalContent, Results
from .routing import Router, configured_channels
from .schedule import Schedule
from .submission import SUBMISSION_GRACE_SECONDS, Submitter, new_task_id
from .tasks import Tasks
from .tracking import Tracker
from .watching import Watcher
from .webhooks import Webhooks

__all__ = ["SUBMISSION_GRACE_SECONDS", "Dispatcher", "LocalContent", "new_task_id"]


T = TypeVar("T")


class _Shared(Generic[T]):
    """A read-only attribute of the dispatcher that is its context's attribute of the same name."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _Shared[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> T | _Shared[T]:
        return self if instance is None else getattr(instance.context, self.name)  # type: ignore[attr-defined]

    def __set__(self, instance: object, value: T) -> None:
        raise AttributeError(f"{self.name} is shared by the engine's parts; it cannot be replaced")


class Dispatcher:
    """Routes unified requests to vendor channels and tracks the tasks.

    :param config: the gateway configuration.
    :param pm: a plugin manager (default: the installed plugins).
    :param store: a task store (default: the one ``config.store.url`` names).
    :param clock: the time now, as Unix seconds.
    :param config_path: the file ``config`` was read from, which :meth:`Reloading.reload` re-reads (None: none).
    :raises ConfigError: the configuration does not fit the installed plugins.
    """

    def __init__(
        self,
        config: Config,
        *,
        pm: pluggy.PluginManager | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        config_path: str | Path | None = None,
    ):
        self.context = context = _assemble(config, pm or make_plugin_manager(), store, clock)
        self.breakers, self.metrics = context.breakers, context.metrics
        registry, channels = context.registry, context.channels
        self.router = Router(config, context.pm, registry, channels, context.breakers, context.keys)
        self.limits = RateLimits(config.tokens)
        self.billing = context.billing
        self.schedule = Schedule(config.poller, registry, channels, clock)
        self.tasks = Tasks(context, self.schedule)
        self.results = Results(context, self.tasks)
        self.submitter = Submitter(context, self.router, self.schedule, self.tasks)
        self.recovery = Recovery(context, self.submitter)
        self.tracker = Tracker(context, self.schedule, self.results, self.recovery)
        self.derived = DerivedTasks(context, self.router, self.schedule, self.tasks)
        self.characters = Characters(context, self.router)
        self.webhooks = Webhooks(context)
        self.watcher = Watcher(context, self.tasks)
        self.callbacks = Callbacks(context, self.schedule, self.tracker)
        self.idempotency = Idempotency(context.store, self, clock)  # through submit(): limits, pins, webhooks
        self.reloading = Reloading(context, config_path, self.router, self.limits, self.webhooks)

    # ------------------------------------------------------------ shared state (read-only views of the context)

    config: _Shared[Config] = _Shared()
    pm: _Shared[pluggy.PluginManager] = _Shared()
    registry: _Shared[Registry] = _Shared()
    store: _Shared[Store] = _Shared()
    clock: _Shared[Callable[[], float]] = _Shared()
    #: Channels by name; replacing one here is seen by every part.
    channels: _Shared[dict[str, Channel]] = _Shared()
    results_dir: _Shared[Path] = _Shared()
    #: The client session vendor calls go through; RuntimeError before :meth:`start`.
    http: _Shared[aiohttp.ClientSession] = _Shared()

    @property
    def tokens(self) -> dict[str, Token]:
        """Tokens by the SHA-256 of their key."""
        return self.router.tokens

    # ------------------------------------------------------------ lifecycle

    async def start(self, http: aiohttp.ClientSession | None = None) -> None:
        """Open the store and use ``http`` (default: a session of the dispatcher's own)."""
        await self.context.store.open()
        await self.billing.apply_quotas()
        self.context.open_http(http)
        if self.metrics is not None and not self.pm.is_registered(self.metrics):
            self.pm.register(self.metrics)
        await self.webhooks.open()
        await self.watcher.open()
        await self.callbacks.open()

    async def stop(self) -> None:
        """Cancel copies in flight (the next start makes them again), close what start opened."""
        if self.metrics is not None and self.pm.is_registered(self.metrics):
            self.pm.unregister(self.metrics)
        await self.reloading.close()
        await self.results.stop()
        await self.watcher.close()
        await self.webhooks.close()
        await self.context.close_http()
        await self.context.store.close()

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # The delegations below that return awaitables are plain functions handing
    # back the part's coroutine: a status read or a submission pays no extra await.

    # ------------------------------------------------------------ routing

    def authenticate(self, authorization: str | None) -> Token:
        """See :meth:`Router.authenticate`."""
        return self.router.authenticate(authorization)

    def channels_for(self, model: ModelSpec, group: str) -> list[Channel]:
        """See :meth:`Router.channels_for`."""
        return self.router.channels_for(model, group)

    def models_for(self, token: Token) -> list[ModelSpec]:
        """See :meth:`Router.models_for`."""
        return self.router.models_for(token)

    def resolve_model(self, name: str, token: Token) -> tuple[ModelSpec, list[Channel]]:
        """See :meth:`Router.resolve_model`."""
        return self.router.resolve_model(name, token)

    def order_channels(self, channels: list[Channel]) -> list[Channel]:
        """See :meth:`Router.order_channels`."""
        return self.router.order_channels(channels)

    # ------------------------------------------------------------ submission

    def submit(self, token: Token, unified: UnifiedRequest, *, task_id: str | None = None) -> Awaitable[Task]:
        """See :meth:`Submitter.submit` (the task's id ``task_id`` if given): a request using
        characters is pinned to their channel, a ``webhook_url`` is checked first (400) and
        recorded after; :class:`RateLimitExceeded` past the token's ``rpm``."""
        self._count(token)
        if unified.characters or unified.webhook_url is not None:
            return self._submit_with_extras(token, unified, task_id)
        return self.submitter.submit(token, unified, task_id=task_id)

    def submit_once(
        self, token: Token, key: str, fingerprint: str, unified: UnifiedRequest
    ) -> Awaitable[tuple[Task, bool]]:
        """See :meth:`Idempotency.submit_once`: ``(task, replayed)``."""
        return self.idempotency.submit_once(token, key, fingerprint, unified)

    async def _submit_with_extras(self, token: Token, unified: UnifiedRequest, task_id: str | None) -> Task:
        url = unified.webhook_url
        if url is not None:
            await self.webhooks.check_target(token, url)
        pinned = await self.characters.pin(token, unified) if unified.characters else None
        task = await self.submitter.submit(token, unified, pinned, task_id=task_id)
        if url is not None:
            await self.webhooks.set_target(task, url)
        return task

    def remix(self, token: Token, task_id: str, prompt: str) -> Awaitable[Task]:
        """See :meth:`DerivedTasks.remix`; :class:`RateLimitExceeded` past the token's ``rpm``."""
        self._count(token)
        return self.derived.remix(token, task_id, prompt)

    def extend(self, token: Token, video: SourceVideo | str, prompt: str, seconds: int, model: str | None = None):
        """See :meth:`DerivedTasks.extend`; :class:`RateLimitExceeded` past the token's ``rpm``."""
        self._count(token)
        return self.derived.extend(token, video, prompt, seconds, model)

    def edit(self, token: Token, video: SourceVideo | str, prompt: str, model: str | None = None) -> Awaitable[Task]:
        """See :meth:`DerivedTasks.edit`; :class:`RateLimitExceeded` past the token's ``rpm``."""
        self._count(token)
        return self.derived.edit(token, video, prompt, model)

    def create_character(self, token: Token, name: str, video: SourceVideo, model: str | None = None):
        """See :meth:`Characters.create`."""
        return self.characters.create(token, name, video, model)

    def get_character(self, token: Token, character_id: str) -> Awaitable[Character]:
        """See :meth:`Characters.get`."""
        return self.characters.get(token, character_id)

    def _count(self, token: Token) -> None:
        try:
            self.limits.hit(token)
        except RateLimitExceeded:
            if self.metrics is not None:
                self.metrics.rate_limited.inc()
            raise

    # ------------------------------------------------------------ the caller's tasks

    def get_task(self, token: Token, task_id: str) -> Awaitable[Task]:
        """See :meth:`Tasks.get_task`."""
        return self.tasks.get_task(token, task_id)

    def list_tasks(
        self, token: Token, *, limit: int = 20, after: str | None = None, descending: bool = True
    ) -> Awaitable[list[Task]]:
        """See :meth:`Tasks.list_tasks`."""
        return self.tasks.list_tasks(token, limit=limit, after=after, descending=descending)

    def cancel(self, token: Token, task_id: str) -> Awaitable[Task]:
        """See :meth:`Tasks.cancel`."""
        return self.tasks.cancel(token, task_id)

    def delete(self, token: Token, task_id: str) -> Awaitable[None]:
        """See :meth:`Tasks.delete`."""
        return self.tasks.delete(token, task_id)

    def with_estimate(self, task: Task) -> Task:
        """See :meth:`Schedule.with_estimate`."""
        return self.schedule.with_estimate(task)

    # ------------------------------------------------------------ results

    def open_content(
        self, token: Token, task_id: str, variant: str = "video"
    ) -> Awaitable[LocalContent | ContentSource]:
        """See :meth:`Results.open_content`."""
        return self.results.open_content(token, task_id, variant)

    def keep_later(self, task: Task) -> bool:
        """See :meth:`Results.keep_later`."""
        return self.results.keep_later(task)

    def keep_missing(self, *, within: float = KEEP_MISSING_WITHIN) -> Awaitable[int]:
        """See :meth:`Results.keep_missing`."""
        return self.results.keep_missing(within=within)

    def drain_copies(self) -> Awaitable[None]:
        """See :meth:`Results.drain_copies`."""
        return self.results.drain_copies()

    # ------------------------------------------------------------ tracking

    def poll(self, task: Task, lease: str) -> Awaitable[Task]:
        """See :meth:`Tracker.poll`."""
        return self.tracker.poll(task, lease)

    def typical_seconds(self, model: ModelSpec | None, channel: Channel | None) -> float:
        """See :meth:`Schedule.typical_seconds`."""
        return self.schedule.typical_seconds(model, channel)

    def first_poll_delay(self, model: ModelSpec, channel: Channel) -> float:
        """See :meth:`Schedule.first_poll_delay`."""
        return self.schedule.first_poll_delay(model, channel)

    def next_poll_delay(self, task: Task, now: float) -> float:
        """See :meth:`Schedule.next_poll_delay`."""
        return self.schedule.next_poll_delay(task, now)

    def estimate_progress(self, task: Task, now: float) -> int:
        """See :meth:`Schedule.estimate_progress`."""
        return self.schedule.estimate_progress(task, now)

    def wake(self) -> None:
        """See :meth:`EngineContext.wake`."""
        self.context.wake()

    def wait_for_work(self, timeout: float) -> Awaitable[None]:
        """See :meth:`EngineContext.wait_for_work`."""
        return self.context.wait_for_work(timeout)


def _assemble(
    config: Config, pm: pluggy.PluginManager, store: Store | None, clock: Callable[[], float]
) -> EngineContext:
    """The state the engine's parts share, checked against the installed plugins.

    :raises ConfigError: the configuration does not fit the installed plugins.
    """
    registry = Registry.collect(pm)
    problems = validate(config, registry, pm)
    if problems:
        raise ConfigError(problems)
    channels = configured_channels(config, registry)
    breakers = Breakers(config.breaker, clock)
    events = Events(pm)
    store = store or open_store(config.store.url)
    # The gateway's metrics (None with ``[metrics] enabled = false``); heard while the dispatcher runs.
    metrics = Metrics() if config.metrics.enabled else None
    if metrics is not None:
        store = MeteredStore(store, metrics)
    return EngineContext(
        config=config,
        pm=pm,
        registry=registry,
        store=store,
        clock=clock,
        channels=channels,
        results_dir=Path(config.store.results_dir).absolute(),
        events=events,
        breakers=breakers,
        keys=KeyRing(breakers),
        calls=UpstreamCalls(breakers, events),
        billing=Billing(config, store, clock),
        scrubber=EngineContext.scrubber_for(channels.values()),
        metrics=metrics,
    )
