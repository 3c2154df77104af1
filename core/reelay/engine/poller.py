"""The background poller: asks vendors about unfinished tasks on a schedule.

Tasks are claimed with a lease in the store, so two gateway processes never
poll the same task at once; a process that dies leaves leases that expire,
and every unfinished task is picked up again after a restart.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections import defaultdict

import structlog

from ..models import Task
from .dispatcher import Dispatcher
from .keeping import sweep_results

log = structlog.get_logger("reelay.poller")

#: How often old kept results are looked for (seconds), at most.
SWEEP_INTERVAL = 3600.0


class Poller:
    """Polls due tasks concurrently, bounded per channel."""

    def __init__(self, dispatcher: Dispatcher):
        self.dispatcher = dispatcher
        self.config = dispatcher.config.poller
        self.lease = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._limits: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(16))
        for channel in dispatcher.channels.values():
            self._limits[channel.name] = asyncio.Semaphore(channel.max_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self._wake_at = 0.0  # when the loop means to look for due tasks next

    def start(self) -> None:
        self._runner = asyncio.create_task(self.run(), name="reelay-poller")
        self._catch_up = asyncio.create_task(self._keep_missing(), name="reelay-keep-missing")
        self._sweeper = asyncio.create_task(self.sweep_forever(), name="reelay-results-sweeper")

    async def stop(self) -> None:
        for name in ("_runner", "_sweeper", "_catch_up"):
            running = getattr(self, name)
            if running is None:
                continue
            running.cancel()
            try:
                await running
            except asyncio.CancelledError:
                pass
            setattr(self, name, None)
        for job in list(self._in_flight):
            job.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        try:
            await self.dispatcher.store.release_leases(self.lease)
        except Exception:  # the store may already be closed by an embedding app
            log.warning("could not release poll leases; they expire on their own")

    async def run(self) -> None:
        while True:
            try:
                claimed = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poller tick failed")
                claimed = 0
            if claimed >= self.config.batch:
                await asyncio.sleep(0)
                continue
            self._wake_at = float("inf")  # polls finishing while we decide must wake us
            sleep = await self._sleep_time()
            self._wake_at = self.dispatcher.clock() + sleep
            await self.dispatcher.wait_for_work(sleep)

    async def tick(self) -> int:
        """Claim the tasks due now and start polling them; returns how many."""
        room = self.config.batch - len(self._in_flight)
        if room <= 0:
            return 0
        now = self.dispatcher.clock()
        tasks = await self.dispatcher.store.claim_due(now, self.lease, self.config.lease_seconds, room)
        for task in tasks:
            job = asyncio.create_task(self._poll(task))
            self._in_flight.add(job)
            job.add_done_callback(self._in_flight.discard)
        return len(tasks)

    async def _poll(self, task: Task) -> None:
        async with self._limits[task.channel]:
            try:
                polled = await self.dispatcher.poll(task, self.lease)
            except Exception:
                log.exception("poll crashed", task_id=task.id)
                return
        # The loop may be sleeping past this task's next poll (it could not
        # see that time while the task was leased): wake it early.
        if not polled.is_terminal and polled.next_poll_at < self._wake_at:
            self.dispatcher.wake()

    async def _keep_missing(self) -> None:
        try:
            await self.dispatcher.keep_missing()
        except Exception:  # a store hiccup: those videos are relayed instead
            log.exception("could not look for results to keep")

    async def sweep_forever(self) -> None:
        """Now and then, remove kept results older than ``[store] keep_days``
        (if set) and copies a crash left half-written."""
        keep_days = self.dispatcher.config.store.keep_days
        keep_for = keep_days * 86400  # 0: for as long as their tasks
        every = min(SWEEP_INTERVAL, max(1.0, keep_for / 4)) if keep_for else SWEEP_INTERVAL
        while True:
            now = self.dispatcher.clock()
            older_than = now - keep_for if keep_for else None
            try:
                removed = await asyncio.to_thread(sweep_results, self.dispatcher.results_dir, older_than, now)
                if removed:
                    log.info("old results removed", count=removed, keep_days=keep_days)
            except OSError as error:
                log.warning("could not sweep the results directory", error=error.strerror or str(error))
            await asyncio.sleep(every)

    async def _sleep_time(self) -> float:
        due = await self.dispatcher.store.next_due()
        if due is None:
            return self.config.max_interval
        wait = due - self.dispatcher.clock()
        return max(0.02, min(wait, self.config.max_interval))
