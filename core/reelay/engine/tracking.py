"""Tracking: asking vendors about unfinished tasks and recording what they say.

The background poller (:mod:`reelay.engine.poller`) decides which tasks are
due and leases them; :class:`Tracker` polls one leased task at a time.
"""

from __future__ import annotations

import structlog

from ..errors import FailureKind, UpstreamError
from ..models import Channel, StatusUpdate, Task, TaskError, TaskStatus
from ..statuses import UNKNOWN_STATUS
from .context import EngineContext
from .recovery import Recovery
from .results import Results
from .schedule import Schedule

log = structlog.get_logger("reelay")


class Tracker:
    """Polls leased tasks, applies status updates, times tasks out, and hands
    interrupted submissions to :class:`Recovery`.

    :param context: the engine's shared state.
    :param schedule: when to poll next.
    :param results: keeps completed tasks' videos.
    :param recovery: finds, resends or fails interrupted submissions.
    """

    def __init__(self, context: EngineContext, schedule: Schedule, results: Results, recovery: Recovery):
        self.context = context
        self.schedule = schedule
        self.results = results
        self.recovery = recovery

    async def poll(self, task: Task, lease: str) -> Task:
        """Ask the vendor about one leased task and record what changed; returns the task.

        Never raises for the vendor's or a plugin's failure: the task is
        polled again later, with backoff. A task without the vendor's
        reference was interrupted mid-submission and goes to :class:`Recovery`.
        """
        context = self.context
        now = context.clock()
        previous = task.status
        channel = context.channel_for(task)
        if channel is None:
            return await self._settle(task, lease, previous, StatusUpdate(TaskStatus.FAILED, error=_channel_gone(task)))
        if task.vendor_ref is None:
            return await self._recover(task, channel, lease)
        try:
            awaitable = context.hooks(channel).reelay_fetch_status(task=task, channel=channel, http=context.http)
            if awaitable is None:
                raise UpstreamError(FailureKind.CHANNEL, f"no plugin polls vendor {channel.vendor!r}")
            payload = await context.calls.timed(channel, "poll", awaitable, task.model)
            update = context.hooks(channel).reelay_map_status(payload=payload, task=task, channel=channel)
            if update is None:
                raise UpstreamError(FailureKind.TRANSIENT, f"no plugin maps {channel.vendor!r} statuses")
        except UpstreamError as error:
            error = context.scrubbed(error)
            if error.code == UNKNOWN_STATUS:  # logged by the plugin's StatusTable; counted here
                context.events.unknown_status(channel, error.message)
            if error.kind is not FailureKind.NOT_FOUND:
                task.poll_failures += 1
                log.warning("poll failed", task_id=task.id, channel=channel.name, code=error.code)
                return await self._settle(task, lease, previous, None, now)
            update = StatusUpdate(TaskStatus.FAILED, error=TaskError("upstream_not_found", error.message))
        except Exception:  # a plugin bug must not stop the poller or lose the task
            log.exception("plugin raised while polling", task_id=task.id, channel=channel.name)
            task.poll_failures += 1
            return await self._settle(task, lease, previous, None, now)
        task.poll_failures = 0
        return await self._settle(task, lease, previous, update, now)

    async def _recover(self, task: Task, channel: Channel, lease: str) -> Task:
        previous = task.status
        try:
            update = await self.recovery.recover(task, channel)
        except Exception:  # a plugin bug: try again later, with backoff
            log.exception("plugin raised while recovering an interrupted submission", task_id=task.id)
            task.poll_failures += 1
            update = None
        return await self._settle(task, lease, previous, update)

    async def apply(self, task: Task, lease: str, update: StatusUpdate) -> Task:
        """Record ``update`` (a vendor's callback) on a task leased to ``lease``, as a poll's would be."""
        return await self._settle(task, lease, task.status, update)

    async def _settle(
        self, task: Task, lease: str, previous: TaskStatus, update: StatusUpdate | None, now: float | None = None
    ) -> Task:
        """Apply ``update`` (if any), time the task out if it ran too long, plan the next
        poll and save, under ``lease``; observers hear of a status change."""
        context = self.context
        now = context.clock() if now is None else now
        if update is not None:
            await self._apply(task, update, now)
        timeout = context.config.poller.timeout_seconds
        if not task.is_terminal and now - task.created_at > timeout:
            task.status = TaskStatus.FAILED
            task.error = TaskError("timeout", f"the task did not finish within {int(timeout)} seconds")
            task.completed_at = now
        task.updated_at = now
        task.next_poll_at = now + self.schedule.next_poll_delay(task, now)
        if not await context.store.save(task, lease=lease):
            log.warning("lease lost before saving a poll", task_id=task.id)
            return task
        if task.status is not previous:
            log.info("task changed", task_id=task.id, status=task.status.value, previous=previous.value)
            context.events.task_changed(task, previous)
            self.results.keep_later(task)
        return task

    async def _apply(self, task: Task, update: StatusUpdate, now: float) -> None:
        """Record an update. Only the vendor's own progress is saved: estimates are
        made on each read of a running task, so a task that fails or is
        cancelled shows the last progress its vendor reported, or 0."""
        if update.vendor_ref is not None and task.vendor_ref is None:
            task.vendor_ref = update.vendor_ref
        task.status = update.status
        error = self.context.task_error(update.error) if update.error is not None else None
        if update.status is TaskStatus.COMPLETED:
            task.progress = 100
            task.completed_at = now
            task.result = await self.results.keep_inline(task, update.result)
            task.error = None
            self.context.billing.settle(task)  # priced on the vendor's seconds; the save settles it
        elif update.status is TaskStatus.CANCELLED:
            task.completed_at = now
            task.error = error
        elif update.status.is_terminal:
            task.completed_at = now
            task.error = error or TaskError("generation_failed", "the vendor reported a failure")
        elif update.progress is not None:
            task.progress = max(task.progress, min(99, int(update.progress)))


def _channel_gone(task: Task) -> TaskError:
    return TaskError("channel_removed", f"channel {task.channel!r} is no longer configured")
