"""What the parts of the engine share: configuration, plugins, store, clock, channels, the HTTP session.

One :class:`EngineContext` is made by :class:`~reelay.engine.Dispatcher` and
handed to each part (router, submitter, tracker, results), so the parts share
state through it rather than through the dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import attrs
import pluggy

from ..config import Config
from ..errors import UpstreamUnavailable
from ..models import Channel, Task
from ..plugins import Registry
from ..store import Store
from .billing import Billing
from .events import Events


@attrs.define(eq=False)
class EngineContext:
    """The state every part of the engine reads.

    ``channels`` maps a channel's name to the channel, its vendor's default
    base URL filled in; the dictionary is shared, so a channel replaced in it
    is seen by every part at once.
    """

    config: Config
    pm: pluggy.PluginManager
    registry: Registry
    store: Store
    clock: Callable[[], float]
    channels: dict[str, Channel]
    results_dir: Path
    events: Events
    billing: Billing
    _session: aiohttp.ClientSession | None = None
    _own_session: bool = False
    # Set when there is work sooner than the poller planned (see wake()).
    _new_work: asyncio.Event = attrs.field(factory=asyncio.Event)

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
        """The channel a task runs on; :class:`UpstreamUnavailable` (503) if it is no longer configured."""
        channel = self.channels.get(task.channel)
        if channel is None:
            raise UpstreamUnavailable(f"channel {task.channel!r} of this task is no longer configured", status=503)
        return channel

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
