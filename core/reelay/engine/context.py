"""What the parts of the engine share: configuration, plugins, store, clock, channels, the HTTP session.

One :class:`EngineContext` is made by :class:`~reelay.engine.Dispatcher` and
handed to each part (router, submitter, tracker, results), so the parts share
state through it rather than through the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import attrs
import pluggy
import structlog

from ..config import Config
from ..errors import UpstreamError, UpstreamUnavailable
from ..logs import redact_values
from ..models import Channel, Task, TaskError
from ..plugins import Registry
from ..scrub import Scrubber
from ..store import Store
from .billing import Billing
from .breakers import Breakers
from .calls import UpstreamCalls
from .events import Events
from .keys import KeyRing
from .metrics import Metrics
from .vendor_hooks import VendorHooks

log = structlog.get_logger("reelay")

T = TypeVar("T")


@attrs.define(eq=False)
class EngineContext:
    """The state every part of the engine reads.

    ``channels`` maps a channel's name to the channel, its vendor's default
    base URL filled in; the dictionary is shared, so a channel replaced in it
    is seen by every part at once.

    Every vendor message on its way to a caller, a task or a log line above
    debug passes through :meth:`from_vendor` (errors a plugin raises) or
    :meth:`task_error` (errors a plugin reports), which scrub it with one
    :class:`~reelay.scrub.Scrubber` knowing every channel's credential values.
    """

    config: Config
    pm: pluggy.PluginManager
    registry: Registry
    store: Store
    clock: Callable[[], float]
    channels: dict[str, Channel]
    results_dir: Path
    events: Events
    breakers: Breakers
    keys: KeyRing
    calls: UpstreamCalls
    billing: Billing
    scrubber: Scrubber = attrs.field(factory=Scrubber)
    #: Channels a reload removed that still have unfinished tasks: polled, never routed to.
    draining: set[str] = attrs.field(factory=set)
    #: The gateway's metrics, or None with ``[metrics] enabled = false``.
    metrics: Metrics | None = None
    #: A new callback URL for (task id, channel), or None; set when vendors can call back.
    callback_url: Callable[[str, Channel], Awaitable[str | None]] | None = None
    _session: aiohttp.ClientSession | None = None
    _own_session: bool = False
    # Set when there is work sooner than the poller planned (see wake()).
    _new_work: asyncio.Event = attrs.field(factory=asyncio.Event)
    _vendor_hooks: VendorHooks = attrs.field(
        default=attrs.Factory(lambda self: VendorHooks(self.pm), takes_self=True), init=False
    )

    def hooks(self, channel: Channel) -> Any:
        """The vendor hooks for ``channel`` (``pm.hook`` without other vendors' plugins: :mod:`.vendor_hooks`)."""
        return self._vendor_hooks.of(channel.vendor)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The client session vendor calls go through; RuntimeError before start."""
        if self._session is None:
            raise RuntimeError("the dispatcher is not started")
        return self._session

    def open_http(self, http: aiohttp.ClientSession | None) -> None:
        """Use ``http``, or a session of our own (closed by :meth:`close_http`) when None."""
        if http is None:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._own_session = True
        else:
            self._session = http

    async def close_http(self) -> None:
        """Forget the session, closing it if it is our own (an embedder closes theirs)."""
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def channel_of(self, task: Task) -> Channel:
        """The channel a task runs on, with the key it was submitted with;
        :class:`UpstreamUnavailable` (503) if it (or its key) is no longer configured."""
        channel = self.channel_for(task)
        if channel is None:
            raise UpstreamUnavailable(f"channel {task.channel!r} of this task is no longer configured", status=503)
        return channel

    def channel_for(self, task: Task) -> Channel | None:
        """The channel a task runs on, with the key it was submitted with; None if it is gone.

        A channel removed by a reload stays here, draining, while it has unfinished tasks.
        """
        channel = self.channels.get(task.channel)
        if channel is None:
            return None
        try:
            return channel.with_key(task.key_index)
        except LookupError:  # a reload removed the task's key
            return None

    @staticmethod
    def scrubber_for(channels: Iterable[Channel]) -> Scrubber:
        """A scrubber removing every credential value of ``channels`` (and what the
        log renderer prints: those values are redacted from log lines too)."""
        values = [
            value
            for channel in channels
            for key in (channel.credentials, *channel.keys)
            for value in key.values()
            if isinstance(value, str)
        ]
        redact_values(values)
        return Scrubber(values)

    def scrubbed(self, error: UpstreamError) -> UpstreamError:
        """``error`` with its message scrubbed (changed in place); the vendor's
        own words are logged at debug level only."""
        clean = self.scrubber.scrub(error.message)
        if clean != error.message:
            log.debug("vendor message scrubbed", original=error.message, code=error.code)
            error.message = clean
            error.args = (clean,)
        return error

    def task_error(self, error: TaskError) -> TaskError:
        """A task error a plugin reported, its message scrubbed (the original at debug level)."""
        clean = self.scrubber.scrub(error.message)
        if clean == error.message:
            return error
        log.debug("vendor message scrubbed", original=error.message, code=error.code)
        return attrs.evolve(error, message=clean)

    async def from_vendor(self, awaitable: Awaitable[T]) -> T:
        """Await a plugin's vendor call; an :class:`UpstreamError` it raises comes out scrubbed."""
        try:
            return await awaitable
        except UpstreamError as error:
            raise self.scrubbed(error) from error.__cause__

    def wake(self) -> None:
        """Tell the poller there is work sooner than it planned."""
        self._new_work.set()

    async def wait_for_work(self, timeout: float) -> None:
        """Sleep until new work arrives or ``timeout`` seconds pass (for the poller)."""
        # Not asyncio.wait_for: on 3.11 it drops a cancellation that arrives as
        # the event is set, and the poller would not stop (python/cpython#86296).
        try:
            async with asyncio.timeout(timeout):
                await self._new_work.wait()
        except TimeoutError:
            pass
        self._new_work.clear()
