"""Webhook deliveries: events waiting to reach callers, and every attempt made, beside the tasks.

The tables live in the task store's own database (SQLite or PostgreSQL),
made by its migrations (``v0004_webhooks``). A delivery is claimed
with a lease, like a poll, so two gateway processes never send the same
attempt at once; an attempt's outcome is recorded only while its lease holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import attrs

#: A delivery's states: waiting for its next attempt, received (a 2xx), given up.
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

_DELIVERY_COLUMNS = "id, task_id, owner, type, url, body, created_at, state, attempts, next_attempt_at"


@attrs.define
class Delivery:
    """One event for one receiver."""

    id: str
    task_id: str
    owner: str
    type: str
    url: str
    body: str
    created_at: float
    state: str = PENDING
    attempts: int = 0
    next_attempt_at: float = 0.0


@attrs.frozen
class Attempt:
    """One try at a delivery; ``url`` is shown without its query string."""

    delivery_id: str
    task_id: str
    attempt: int
    at: float
    url: str
    status_code: int | None = None
    error: str | None = None
    next_retry_at: float | None = None


class _Database(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, list[Any]]: ...


class Deliveries:
    """The delivery tables of one store's database.

    :param database: the task store (its ``execute``), SQLite or PostgreSQL.
    :param postgres: whether it is PostgreSQL (``$n`` placeholders).
    """

    def __init__(self, database: _Database, *, postgres: bool):
        self._db = database
        self._postgres = postgres

    async def _run(self, sql: str, *params: Any) -> tuple[int, list[Any]]:
        if self._postgres:
            counter = iter(range(1, len(params) + 1))
            sql = re.sub(r"\?", lambda _: f"${next(counter)}", sql)
        return await self._db.execute(sql, params)

    async def set_target(self, task_id: str, url: str) -> None:
        """Send ``task_id``'s webhooks to ``url`` (instead of its token's)."""
        await self._run(
            "INSERT INTO webhook_targets (task_id, url) VALUES (?, ?) ON CONFLICT (task_id) DO UPDATE SET url = ?",
            task_id,
            url,
            url,
        )

    async def target(self, task_id: str) -> str | None:
        _, rows = await self._run("SELECT url FROM webhook_targets WHERE task_id = ?", task_id)
        return rows[0][0] if rows else None

    async def add(self, delivery: Delivery) -> bool:
        """Record a new delivery; False if one with its id exists (an event is made once)."""
        marks = ", ".join("?" for _ in range(10))
        changed, _ = await self._run(
            f"INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING",
            *attrs.astuple(delivery),
        )
        return changed > 0

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Delivery]:
        """Pending deliveries due now, leased to ``lease``."""
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._postgres else ""
        sql = (
            "UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ? WHERE id IN ("
            f" SELECT id FROM webhook_deliveries WHERE state = '{PENDING}' AND next_attempt_at <= ?"
            f" AND lease_until < ? ORDER BY next_attempt_at LIMIT ?{skip_locked}) RETURNING {_DELIVERY_COLUMNS}"
        )
        _, rows = await self._run(sql, lease, now + lease_seconds, now, now, limit)
        return [Delivery(*row) for row in rows]

    async def record(self, attempt: Attempt, *, lease: str, state: str) -> bool:
        """Record an attempt and the delivery's new state, while ``lease`` holds it; releases the lease."""
        changed, _ = await self._run(
            "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ?,"
            " lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
            attempt.attempt,
            state,
            attempt.next_retry_at or attempt.at,
            attempt.delivery_id,
            lease,
        )
        await self._run(
            "INSERT INTO webhook_attempts (delivery_id, task_id, attempt, at, url, status_code, error, next_retry_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            *attrs.astuple(attempt),
        )
        return changed > 0

    async def attempts(self, task_id: str) -> list[Attempt]:
        """Every attempt at the task's deliveries, oldest first."""
        _, rows = await self._run(
            "SELECT delivery_id, task_id, attempt, at, url, status_code, error, next_retry_at"
            " FROM webhook_attempts WHERE task_id = ? ORDER BY at, attempt",
            task_id,
        )
        return [Attempt(*row) for row in rows]

    async def of_task(self, task_id: str) -> list[Delivery]:
        _, rows = await self._run(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE task_id = ? ORDER BY created_at", task_id
        )
        return [Delivery(*row) for row in rows]

    async def next_due(self) -> float | None:
        """When the earliest pending delivery is due (or its lease ends), or None."""
        _, rows = await self._run(
            f"SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END)"
            f" FROM webhook_deliveries WHERE state = '{PENDING}'"
        )
        return rows[0][0] if rows and rows[0][0] is not None else None

    async def release_leases(self, lease: str) -> None:
        release = "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?"
        await self._run(release, lease)
