"""Following one task as it changes: what the live event stream sends.

A task's states are numbered so that the number only grows: its stage
(queued, running, ended) then its progress. The number is the stream's
event id, so ``Last-Event-ID`` resumes with whatever came after it, in
whichever process the caller reconnects to, with nothing kept per stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..errors import NotFound
from ..models import Task, TaskStatus, Token
from ..store.changes import Changes
from .context import EngineContext
from .tasks import Tasks


def sequence(task: Task) -> int:
    """The number of the task's state: grows with every change of status or progress."""
    stage = 0 if task.status is TaskStatus.QUEUED else 2 if task.is_terminal else 1
    return stage * 101 + max(0, min(task.progress, 100))


class Watcher:
    """Yields a task each time its status or progress changes, until it ends.

    :param context: the engine's shared state.
    :param tasks: the caller's reads (ownership, progress estimates).
    """

    def __init__(self, context: EngineContext, tasks: Tasks):
        self.tasks = tasks
        self.changes = Changes(context.store, context.config.events.check_seconds)
        context.events.add_listener(lambda task, _previous: self.changes.touched(task.id))

    async def open(self) -> None:
        await self.changes.open()

    async def close(self) -> None:
        await self.changes.close()

    async def follow(self, token: Token, task: Task, after: int | None = None) -> AsyncIterator[tuple[int, Task]]:
        """``(event number, task)`` for the state of ``task`` now, unless it is not past
        ``after``, then for every later change; stops after the task ends or is deleted."""
        while True:
            number = sequence(task)
            if after is None or number > after:
                yield number, task
                after = number
            if task.is_terminal:
                return
            await self.changes.wait(task.id)
            try:
                task = await self.tasks.get_task(token, task.id)
            except NotFound:
                return
