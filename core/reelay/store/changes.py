"""Hearing that a task changed, in every gateway process that shares the store.

PostgreSQL: a trigger on ``tasks`` sends ``NOTIFY reelay_task_changed`` with
the task's id whenever its status or progress changes, whoever wrote it;
each process LISTENs on one connection of its own and wakes the waiters of
that task. SQLite: there is no such channel between processes, so a waiter
wakes every ``check_seconds`` and looks (a point read by id, cheap on the
store's read-only connection).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import structlog

log = structlog.get_logger("reelay.store")

#: The trigger the migration ``v0007_task_notify`` installs notifies on this channel.
CHANNEL = "reelay_task_changed"


class Changes:
    """Waits for a task to change: woken by the store's notifications where it has
    them, else after ``check_seconds``.

    :param store: the task store (a PostgreSQL store is listened to).
    :param check_seconds: how long a wait lasts without a notification.
    """

    def __init__(self, store: Any, check_seconds: float):
        self._store = store
        self.check_seconds = check_seconds
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._connection: Any = None
        #: Whether changes are pushed (a waiter may then wait longer between looks).
        self.notified = False

    async def open(self) -> None:
        connect = getattr(self._store, "connect", None)
        if connect is None:  # SQLite: waiters look on their own
            return
        self._connection = await connect()
        await self._connection.add_listener(CHANNEL, self._heard)
        self.notified = True

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self.notified = False
        if connection is not None:
            try:
                await connection.close(timeout=5)
            except Exception:  # already gone with the database
                connection.terminate()
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.set()

    def _heard(self, _connection: Any, _pid: int, _channel: str, task_id: str) -> None:
        for waiter in self._waiters.get(task_id, ()):
            waiter.set()

    def touched(self, task_id: str) -> None:
        """This process changed the task: wake its waiters here at once."""
        self._heard(None, 0, CHANNEL, task_id)

    async def wait(self, task_id: str, timeout: float | None = None) -> None:
        """Return when the task may have changed, or after ``timeout``
        (default ``check_seconds``, or ten times that when changes are pushed)."""
        if timeout is None:
            timeout = self.check_seconds * (10 if self.notified else 1)
        waiter = asyncio.Event()
        self._waiters[task_id].add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.wait()
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters[task_id]
            waiters.discard(waiter)
            if not waiters:
                del self._waiters[task_id]
