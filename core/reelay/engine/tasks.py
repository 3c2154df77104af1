"""A caller's own tasks: reading, listing, cancelling and deleting them."""

from __future__ import annotations

import asyncio
import hmac

from ..errors import Conflict, FailureKind, InvalidRequest, NotFound, UpstreamError, UpstreamUnavailable
from ..models import Task, TaskError, TaskStatus, Token
from .context import EngineContext
from .keeping import unlink_quietly
from .schedule import Schedule


class Tasks:
    """Reads and changes of the tasks a token owns.

    Another token's task is indistinguishable from none: every method
    raises :class:`NotFound` for it.
    """

    def __init__(self, context: EngineContext, schedule: Schedule):
        self.context = context
        self.schedule = schedule
        # Status reads are the hottest path: the store is looked up once here.
        self._store = context.store

    async def get_task(self, token: Token, task_id: str) -> Task:
        """The caller's task, its progress estimate brought up to now."""
        return self.schedule.with_estimate(await self._owned(token, task_id))

    async def _owned(self, token: Token, task_id: str) -> Task:
        """The caller's task as stored (no estimate: what is saved back is the vendor's progress)."""
        task = await self._store.get(task_id)
        if task is None or not hmac.compare_digest(task.owner, token.name):
            raise NotFound(f"no task {task_id!r}", param="task_id", code="task_not_found")
        return task

    async def list_tasks(
        self, token: Token, *, limit: int = 20, after: str | None = None, descending: bool = True
    ) -> list[Task]:
        """Up to ``limit`` of the caller's tasks, newest first unless ``descending`` is False,
        starting after the task id ``after``."""
        tasks = await self._store.list(token.name, limit=limit, after=after, descending=descending)
        return [self.schedule.with_estimate(task) for task in tasks]

    async def withdraw(self, task: Task, error: TaskError) -> None:
        """Forget a task whose request is answered with an error (the vendor refused it, or
        every channel failed): the caller never hears of it, so it leaves no task in their
        list and no webhook. Its final save refunds a held price (the ledger keeps the hold
        and the refund), then the row goes."""
        task.status = TaskStatus.FAILED
        task.error = error
        task.completed_at = task.updated_at = self.context.clock()
        await self._store.save(task)
        await self._store.delete(task.id)

    async def cancel(self, token: Token, task_id: str) -> Task:
        """Ask the vendor to stop the task; returns it ``cancelled``.

        Raises :class:`Conflict` if it already ended (``task_ended``) or the
        vendor refuses to cancel it in its present state (``cancel_refused``),
        :class:`InvalidRequest` if its vendor cannot cancel at all,
        :class:`UpstreamUnavailable` if the vendor failed or its channel is gone.
        """
        context = self.context
        task = await self._owned(token, task_id)
        if task.is_terminal:
            raise Conflict(f"task {task_id} already ended ({task.status.value})", param="task_id", code="task_ended")
        channel = context.channel_of(task)
        awaitable = context.hooks(channel).reelay_cancel(task=task, channel=channel, http=context.http)
        if awaitable is None:
            raise InvalidRequest(
                f"task {task_id} cannot be cancelled: vendor {task.vendor} offers no cancel, so it keeps running",
                code="cancel_not_supported",
            )
        try:
            await context.calls.timed(channel, "cancel", context.from_vendor(awaitable), task.model)
        except UpstreamError as error:
            if error.kind is FailureKind.CALLER:  # the vendor cannot cancel it now (it has started, say)
                raise Conflict(
                    f"the vendor refused to cancel task {task_id} now: {error.message}; it runs to its end",
                    param="task_id",
                    code="cancel_refused",
                ) from None
            raise UpstreamUnavailable(f"the vendor did not cancel the task: {error.message}") from None
        previous = task.status
        task.status = TaskStatus.CANCELLED
        task.completed_at = task.updated_at = context.clock()
        if not await self._store.save(task):  # it ended while the vendor was asked: that end stands
            ended = await self._store.get(task_id)
            status = ended.status.value if ended is not None else "deleted"
            raise Conflict(f"task {task_id} already ended ({status})", param="task_id", code="task_ended")
        context.events.task_changed(task, previous)
        return task

    async def delete(self, token: Token, task_id: str) -> None:
        """Forget a finished task (and its kept result); cancel it first if it runs."""
        task = await self.get_task(token, task_id)
        if not task.is_terminal:
            await self.cancel(token, task_id)
        if task.result is not None and task.result.path:
            await asyncio.to_thread(unlink_quietly, task.result.path)
        await self._store.delete(task_id)
