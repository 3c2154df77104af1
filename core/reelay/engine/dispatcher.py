"""The dispatcher: the engine's parts composed behind one object.

Usable as a library: ``async with Dispatcher(config) as dispatcher: ...``, or
mounted into an aiohttp application with :func:`reelay.http.app.setup_routes`.

Each job lives in its own part, reachable as an attribute:

- :class:`~reelay.engine.routing.Router` (``router``): tokens, models, channels and their order;
- :class:`~reelay.engine.submission.Submitter` (``submitter``): submission with fail-over, remixes;
- :class:`~reelay.engine.tracking.Tracker` (``tracker``): polling and settling tasks;
- :class:`~reelay.engine.schedule.Schedule` (``schedule``): the poll schedule, progress estimates;
- :class:`~reelay.engine.tasks.Tasks` (``tasks``): a caller's reads, lists, cancels, deletes;
- :class:`~reelay.engine.results.Results` (``results``): downloads and kept copies.

They share an :class:`~reelay.engine.context.EngineContext` (``context``);
the dispatcher's methods hand each call to the part that does it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pluggy

from ..config import Config, ConfigError, validate
from ..models import Channel, ContentSource, ModelSpec, Task, Token, UnifiedRequest
from ..plugins import Registry, make_plugin_manager
from ..store import Store, open_store
from .billing import Billing
from .context import EngineContext
from .events import Events
from .idempotency import Idempotency
from .results import KEEP_MISSING_WITHIN, LocalContent, Results
from .routing import Router, configured_channels
from .schedule import Schedule
from .submission import SUBMISSION_GRACE_SECONDS, Submitter, new_task_id
from .tasks import Tasks
from .tracking import Tracker

__all__ = ["SUBMISSION_GRACE_SECONDS", "Dispatcher", "LocalContent", "new_task_id"]


class Dispatcher:
    """Routes unified requests to vendor channels and tracks the tasks.

    :param config: the gateway configuration.
    :param pm: a plugin manager (default: the installed plugins).
    :param store: a task store (default: the one ``config.store.url`` names).
    :param clock: the time now, as Unix seconds.
    :raises ConfigError: the configuration does not fit the installed plugins.
    """

    def __init__(
        self,
        config: Config,
        *,
        pm: pluggy.PluginManager | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ):
        pm = pm or make_plugin_manager()
        registry = Registry.collect(pm)
        problems = validate(config, registry, pm)
        if problems:
            raise ConfigError(problems)
        channels = configured_channels(config, registry)
        self.router = Router(config, pm, registry, channels)
        store = store or open_store(config.store.url)
        self.billing = Billing(config, store, clock)
        self.context = context = EngineContext(
            config=config,
            pm=pm,
            registry=registry,
            store=store,
            billing=self.billing,
            clock=clock,
            channels=channels,
            results_dir=Path(config.store.results_dir).absolute(),
            events=Events(pm),
        )
        self.schedule = Schedule(config.poller, registry, channels, clock)
        self.tasks = Tasks(context, self.schedule)
        self.results = Results(context, self.tasks)
        self.submitter = Submitter(context, self.router, self.schedule, self.tasks)
        self.tracker = Tracker(context, self.schedule, self.results, self.submitter)
        self.idempotency = Idempotency(context.store, self.submitter, clock)

    # ------------------------------------------------------------ shared state

    @property
    def config(self) -> Config:
        return self.context.config

    @property
    def pm(self) -> pluggy.PluginManager:
        return self.context.pm

    @property
    def registry(self) -> Registry:
        return self.context.registry

    @property
    def store(self) -> Store:
        return self.context.store

    @property
    def clock(self) -> Callable[[], float]:
        return self.context.clock

    @property
    def channels(self) -> dict[str, Channel]:
        """Channels by name; replacing one here is seen by every part."""
        return self.context.channels

    @property
    def tokens(self) -> dict[str, Token]:
        """Tokens by the SHA-256 of their key."""
        return self.router.tokens

    @property
    def results_dir(self) -> Path:
        return self.context.results_dir

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session vendor calls go through; RuntimeError before :meth:`start`."""
        return self.context.http

    # ------------------------------------------------------------ lifecycle

    async def start(self, http: aiohttp.ClientSession | None = None) -> None:
        """Open the store and use ``http`` (default: a session of the dispatcher's own)."""
        await self.context.store.open()
        await self.billing.apply_quotas()
        self.context.open_http(http)

    async def stop(self) -> None:
        """Cancel copies in flight (the next start makes them again), close what start opened."""
        await self.results.stop()
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
        """See :meth:`Submitter.submit`."""
        return self.submitter.submit(token, unified, task_id=task_id)

    def submit_once(
        self, token: Token, key: str, fingerprint: str, unified: UnifiedRequest
    ) -> Awaitable[tuple[Task, bool]]:
        """See :meth:`Idempotency.submit_once`: ``(task, replayed)``."""
        return self.idempotency.submit_once(token, key, fingerprint, unified)

    def remix(self, token: Token, task_id: str, prompt: str) -> Awaitable[Task]:
        """See :meth:`Submitter.remix`."""
        return self.submitter.remix(token, task_id, prompt)

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
