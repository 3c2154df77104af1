"""Vendor callbacks: the unguessable token each task's callback URL carries, and claiming one task at once.

The table lives in the task store's database (SQLite or PostgreSQL), made
by its migrations (``v0005_callbacks``). A callback is applied
under a lease on its task, like a poll, so it never races the poller.
"""

from __future__ import annotations

import re
from typing import Any

from ..models import Task, TaskStatus
from .codec import COLUMNS, from_row

_ACTIVE = ", ".join(f"'{status.value}'" for status in TaskStatus if not status.is_terminal)
_LIGHT_COLUMNS = ", ".join("NULL" if column == "request" else column for column in COLUMNS)


class CallbackTokens:
    """Callback tokens and single-task claims on one store's database.

    :param database: the task store (its ``execute``).
    :param postgres: whether it is PostgreSQL (``$n`` placeholders).
    """

    def __init__(self, database: Any, *, postgres: bool):
        self._db = database
        self._postgres = postgres
        self._dialect: dict[str, str] = {}  # each statement in PostgreSQL's placeholders, worked out once

    async def _run(self, sql: str, *params: Any) -> tuple[int, list[Any]]:
        if self._postgres:
            translated = self._dialect.get(sql)
            if translated is None:
                counter = iter(range(1, len(params) + 1))
                translated = self._dialect[sql] = re.sub(r"\?", lambda _: f"${next(counter)}", sql)
            return await self._db.execute(translated, params)
        # Every statement here touches one row by its key: on SQLite they run on the
        # loop's thread with the turn's other single-row writes (no hop to the store's thread).
        return await self._db.execute(sql, params, inline=True)

    async def add(self, token: str, task_id: str, vendor: str, now: float) -> None:
        await self._run(
            "INSERT INTO task_callbacks (token, task_id, vendor, created_at) VALUES (?, ?, ?, ?)",
            token,
            task_id,
            vendor,
            now,
        )

    async def find(self, token: str) -> tuple[str, str] | None:
        """``(task id, vendor)`` of a token, or None."""
        _, rows = await self._run("SELECT task_id, vendor FROM task_callbacks WHERE token = ?", token)
        return (rows[0][0], rows[0][1]) if rows else None

    async def claim(self, task_id: str, lease: str, now: float, lease_seconds: float) -> Task | None:
        """Lease one unfinished task now, unless another lease holds it; the task, or None."""
        sql = (
            "UPDATE tasks SET lease_owner = ?, lease_until = ?"
            f" WHERE id = ? AND status IN ({_ACTIVE}) AND lease_until < ? RETURNING {_LIGHT_COLUMNS}"
        )
        _, rows = await self._run(sql, lease, now + lease_seconds, task_id, now)
        return from_row(rows[0]) if rows else None
