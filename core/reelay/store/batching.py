"""Point reads by id gathered per turn of the event loop, for the stores.

Status checks come in crowds, and under load a statement per read costs more
than the read (bench/RESULTS.md): the reads asked for during one turn are
handed together to the store at the start of the next, which answers them
all with one statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

#: A task id asked for, and the future its row (or None) goes to.
Pending = tuple[str, "asyncio.Future[Any]"]


class ReadsPerTurn:
    """Collects point reads; ``answer`` gets each turn's batch and settles it
    with :func:`settle` or :func:`fail`."""

    def __init__(self, answer: Callable[[list[Pending]], None]):
        self._answer = answer
        self._pending: list[Pending] = []

    def ask(self, task_id: str) -> asyncio.Future[Any]:
        """The future of ``task_id``'s row (None when there is no such task)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((task_id, future))
        if len(self._pending) == 1:
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Hand over the reads asked for so far (at the start of the next turn, or when the store closes)."""
        batch, self._pending = self._pending, []
        if batch:
            self._answer(batch)


def settle(batch: list[Pending], rows: Sequence[Sequence[Any]]) -> None:
    """Give each read its row; a row's first column is the task id."""
    by_id = {row[0]: row for row in rows}
    for task_id, future in batch:
        if not future.done():  # the caller went away
            future.set_result(by_id.get(task_id))


def fail(batch: list[Pending], error: BaseException) -> None:
    """Every read of the batch hears ``error``."""
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
