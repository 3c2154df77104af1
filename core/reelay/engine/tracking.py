"""Tracking: asking vendors about unfinished tasks and recording what they say.

The background poller (:mod:`reelay.engine.poller`) decides which tasks are
due and leases them; :class:`Tracker` polls one leased task at a time.
"""

from __future__ import annotations

import structlog

from ..errors import FailureKind, UpstreamError
from ..models import Channel, StatusUpdate, Task, TaskError, TaskStatus
from .context import EngineContext
from .results import Results
from .schedule import Schedule
from .submission import Submitter

log = structlog.get_logger("reelay")


class Tracker:
    """Polls leased tasks, applies status updates, times tasks out, and sends
    interrupted submissions again.

    :param context: the engine's shared state.
    :param schedule: when to poll next, and progress estimates.
    :param results: keeps completed tasks' videos.
    :param submitter: sends interrupted submissions again.
    """

    def __init__(self, context: EngineContext, schedule: Schedule, results: Results, submitter: Submitter):
        self.context = context
        self.schedule = schedule
        self.results = results
        self.submitter = submitter

    async def poll(self, task: Task, lease: str) -> Task:
        """Ask the vendor about one leased task and record what changed; returns the task.

        Never raises for the vendor's or a plugin's failure: the task is
        polled again later, with backoff.
        """
        context = self.context
        now = context.clock()
        previous = task.status
        channel = context.channels.get(task.channel)
        if channel is None:
            return await self._settle(task, lease, previous, StatusUpdate(TaskStatus.FAILED, error=_channel_gone(task)))
        try:
            awaitable = context.pm.hook.reelay_fetch_status(task=task, channel=channel, http=context.http)
            if awaitable is None:
                raise UpstreamError(FailureKind.CHANNEL, f"no plugin polls vendor {channel.vendor!r}")
            payload = await awaitable
            update = context.pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
            if update is None:
                raise UpstreamError(FailureKind.TRANSIENT, f"no plugin maps {channel.vendor!r} statuses")
        except UpstreamError as error:
            if error.kind is FailureKind.NOT_FOUND and task.vendor_ref is None:
                return await self._resubmit(task, channel, lease)
            if error.kind is FailureKind.NOT_FOUND:
                update = StatusUpdate(TaskStatus.FAILED, error=TaskError("upstream_not_found", error.message))
            else:
                task.poll_failures += 1
                log.warning("poll failed", task_id=task.id, channel=channel.name, code=error.code)
                return await self._settle(task, lease, previous, None, now)
        except Exception:  # a plugin bug must not stop the poller or lose the task
            log.exception("plugin raised while polling", task_id=task.id, channel=channel.name)
            task.poll_failures += 1
            return await self._settle(task, lease, previous, None, now)
        task.poll_failures = 0
        return await self._settle(task, lease, previous, update, now)

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
        if update.vendor_ref is not None and task.vendor_ref is None:
            task.vendor_ref = update.vendor_ref
        task.status = update.status
        if update.status is TaskStatus.COMPLETED:
            task.progress = 100
            task.completed_at = now
            task.result = await self.results.keep_inline(task, update.result)
            task.error = None
            self.context.billing.settle(task)  # priced on the vendor's seconds; the save settles it
        elif update.status.is_terminal:
            task.completed_at = now
            task.error = update.error or TaskError("generation_failed", "the vendor reported a failure")
        else:
            progress = update.progress if update.progress is not None else self.schedule.estimate_progress(task, now)
            task.progress = max(task.progress, min(99, int(progress)))

    async def _resubmit(self, task: Task, channel: Channel, lease: str) -> Task:
        """Submit again a task whose submission was interrupted before the vendor's id was recorded."""
        context = self.context
        model = context.registry.models.get(task.model)
        previous = task.status
        if task.request is None:  # claimed tasks come without it: it may hold images
            stored = await context.store.get(task.id, with_request=True)
            task.request = stored.request if stored is not None else None
        if task.request is None or model is None:
            update = StatusUpdate(TaskStatus.FAILED, error=TaskError("submission_lost", "the submission was lost"))
            return await self._settle(task, lease, previous, update)
        payload = context.pm.hook.reelay_build_payload(request=task.request, model=model, channel=channel)
        try:
            task.vendor_ref = await self.submitter.send(payload, task.request, channel)
        except UpstreamError as error:
            if error.retryable:
                task.poll_failures += 1
                return await self._settle(task, lease, previous, None)
            update = StatusUpdate(TaskStatus.FAILED, error=TaskError(error.code, error.message))
            return await self._settle(task, lease, previous, update)
        log.info("interrupted submission sent again", task_id=task.id, channel=channel.name)
        return await self._settle(task, lease, previous, None)


def _channel_gone(task: Task) -> TaskError:
    return TaskError("channel_removed", f"channel {task.channel!r} is no longer configured")
