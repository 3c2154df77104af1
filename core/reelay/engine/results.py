"""Finished videos: serving them (a kept file or the vendor's), and keeping copies in the background.

The file-level work (downloading, writing, sweeping) is in :mod:`reelay.engine.keeping`;
this module decides when a copy is made and which source a download reads.
"""

from __future__ import annotations

import asyncio
import os

import attrs
import structlog

from ..errors import Conflict, InvalidRequest, ReelayError, UpstreamError, UpstreamUnavailable
from ..models import ContentSource, Task, TaskStatus, Token, VideoResult
from .context import EngineContext
from .keeping import NotKept, keep_copy, kept_path, unlink_quietly, write_kept
from .tasks import Tasks

log = structlog.get_logger("reelay")

#: Finished videos copied at once; more wait their turn (each is disk and network work).
COPY_CONCURRENCY = 4
#: A copy taking longer than this (seconds) is given up; the video is relayed instead.
COPY_TIMEOUT = 300.0
#: How long a download waits for a copy under way before it relays from the vendor.
COPY_WAIT = 30.0
#: How long a copy waits for the event loop to be free before it starts anyway.
COPY_DEFER = 30.0
#: The event loop is busy when a short sleep overshoots by more than this (seconds).
BUSY_LAG = 0.005
#: At start, tasks completed this recently without a kept copy are copied (seconds).
KEEP_MISSING_WITHIN = 86400.0
KEEP_MISSING_LIMIT = 10_000


@attrs.frozen
class LocalContent:
    """A result the gateway stored itself."""

    path: str
    mime_type: str


class Results:
    """Opens finished videos for download and keeps copies of them (``[store] keep_results``).

    :param context: the engine's shared state.
    :param tasks: the caller's tasks, to check a download's owner.
    """

    def __init__(self, context: EngineContext, tasks: Tasks):
        self.context = context
        self.tasks = tasks
        # Copies of finished videos in flight by task id, each with the event
        # a download sets to hurry it.
        self._copies: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._copy_slots = asyncio.Semaphore(COPY_CONCURRENCY)

    async def open_content(self, token: Token, task_id: str, variant: str = "video") -> LocalContent | ContentSource:
        """Where to read a completed task's ``variant`` from: the kept file, or the vendor.

        Raises :class:`NotFound` (not the caller's task), :class:`Conflict`
        (not completed), :class:`InvalidRequest` (no such variant) or
        :class:`UpstreamUnavailable` (the vendor or the channel is gone).
        """
        context = self.context
        task = await self.tasks.get_task(token, task_id)
        if task.status is not TaskStatus.COMPLETED or task.result is None:
            raise Conflict(
                f"task {task_id} is {task.status.value}; its content is available once it is completed",
                param="task_id",
            )
        copying = self._copies.get(task.id)
        if copying is not None and variant == "video":
            # Wait for the copy (now, busy or not) rather than fetch the same bytes twice.
            copy, hurry = copying
            hurry.set()
            await asyncio.wait({copy}, timeout=COPY_WAIT)  # never cancels nor raises the copy's error
            task = await self.tasks.get_task(token, task_id)
        result = task.result or VideoResult()
        if result.path is not None and variant == "video":
            if os.path.isfile(result.path):
                return LocalContent(result.path, result.mime_type)
            # Removed from the results directory by hand: the vendor may still have it.
            log.warning("kept result missing; asking the vendor", task_id=task.id)
        channel = context.channel_of(task)
        awaitable = context.hooks(channel).reelay_open_content(
            task=task, channel=channel, http=context.http, variant=variant
        )
        if awaitable is None:
            raise InvalidRequest(f"variant {variant!r} is not available for this task", param="variant")
        try:
            return await context.calls.timed(channel, "content", context.from_vendor(awaitable), task.model)
        except UpstreamError as error:
            raise UpstreamUnavailable(f"the vendor could not serve the content: {error.message}") from None

    async def keep_inline(self, task: Task, result: VideoResult | None) -> VideoResult:
        """The result to record for a completed task: inline bytes are written to the
        results directory once, and the result names the file instead."""
        if result is None:
            return VideoResult()
        if result.data is None:
            return result
        path = kept_path(self.context.results_dir, task.id, result.mime_type)
        await asyncio.to_thread(write_kept, path, result.data)
        return attrs.evolve(result, data=None, path=str(path))

    def keep_later(self, task: Task) -> bool:
        """Copy a completed task's video into the results directory, in the background.

        Vendors' links expire, so the copy starts as the task completes; it
        does not hold up the poll, and the task shows ``completed`` at once.
        A download asked for meanwhile waits for the copy (see
        :meth:`open_content`). A gateway stopped mid-copy copies again when
        it starts (:meth:`keep_missing`). Returns whether a copy started.
        """
        result = task.result
        wanted = self.context.config.store.keep_results and task.status is TaskStatus.COMPLETED
        if not wanted or result is None or result.path is not None or task.id in self._copies:
            return False
        hurry = asyncio.Event()
        copy = asyncio.create_task(self._keep(task, hurry), name=f"reelay-keep-{task.id}")
        self._copies[task.id] = (copy, hurry)
        copy.add_done_callback(lambda _: self._copies.pop(task.id, None))
        return True

    async def keep_missing(self, *, within: float = KEEP_MISSING_WITHIN) -> int:
        """Start copies for tasks completed in the last ``within`` seconds that have
        none (a gateway stopped mid-copy); returns how many started."""
        context = self.context
        if not context.config.store.keep_results:
            return 0
        tasks = await context.store.completed_since(context.clock() - within, limit=KEEP_MISSING_LIMIT)
        started = sum(self.keep_later(task) for task in tasks)
        if started:
            log.info("copying results a previous run did not keep", count=started)
        return started

    async def drain_copies(self) -> None:
        """Wait until no copy is in flight (for tests and orderly shutdowns)."""
        while self._copies:
            await asyncio.gather(*(copy for copy, _ in self._copies.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the copies in flight and wait for them to end; the next start copies them again."""
        copies = [copy for copy, _ in self._copies.values()]
        for copy in copies:
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)

    async def _keep(self, task: Task, hurry: asyncio.Event) -> None:
        async with self._copy_slots:
            await _until_not_busy(COPY_DEFER, hurry)
            path = await self._copy_result(task)
        if path is None or task.result is None:
            return
        # A finished task changes no more, except by being deleted.
        kept = attrs.evolve(task, result=attrs.evolve(task.result, path=path))
        try:
            recorded = await self.context.store.save(kept)
        except Exception:  # the store is down: the next start copies it again
            log.exception("kept result not recorded", task_id=task.id)
            return
        if not recorded:  # deleted while we copied
            await asyncio.to_thread(unlink_quietly, path)

    async def _copy_result(self, task: Task) -> str | None:
        """The kept file's path, or None (logged) when the video stays with the vendor."""
        context = self.context
        channel = context.channel_for(task)
        if channel is None:
            return None
        store = context.config.store
        try:
            awaitable = context.hooks(channel).reelay_open_content(
                task=task, channel=channel, http=context.http, variant="video"
            )
            if awaitable is None:
                return None
            source = await context.calls.timed(channel, "content", context.from_vendor(awaitable), task.model)
            kept = await keep_copy(
                context.http,
                source,
                context.results_dir,
                task.id,
                max_bytes=int(store.max_result_mb * 1024 * 1024),
                timeout=COPY_TIMEOUT,
            )
        except (NotKept, UpstreamError, ReelayError) as error:
            reason = getattr(error, "message", str(error))
            log.warning("result not kept; it will be relayed from the vendor", task_id=task.id, reason=reason)
            return None
        except Exception:  # a plugin bug must not stop the others
            log.exception("result not kept: the plugin raised", task_id=task.id)
            return None
        log.info("result kept", task_id=task.id, bytes=kept.size)
        return str(kept.path)


async def _until_not_busy(at_most: float, hurry: asyncio.Event) -> None:
    """Wait (``at_most`` seconds, or until ``hurry`` is set) for the event loop
    to have time to spare.

    Copies are background work: while the loop is saturated, the polls and
    requests callers wait on come first (a vendor's link lasts an hour or
    more). A loop with time to spare wakes a short sleep on time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most
    while not hurry.is_set() and loop.time() < deadline:
        asked = loop.time()
        await asyncio.sleep(0.01)
        if loop.time() - asked - 0.01 < BUSY_LAG:
            return
