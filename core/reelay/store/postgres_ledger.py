"""The ledger and idempotency keys in PostgreSQL: the queries :class:`~reelay.store.postgres.PostgresStore` inherits.

A hold locks the token's account row (``FOR UPDATE``) while it checks the
balance and the tasks in flight, so concurrent submissions of one token, in
any process, are admitted one at a time. A closing locks the task's row
before reading its stored cost, so of two pollers (or a poller and a
cancel) only the first writes the settle or refund.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..models import Task, amount_text
from .ledger import (
    Account,
    Admission,
    Entry,
    EntryKind,
    ModelUsage,
    check_admission,
    closing,
    from_micros,
    hold_values,
    to_micros,
)

_ACCOUNT = "SELECT token, credit_micros, held_micros, spent_micros, quota_applied FROM accounts WHERE token = $1"
_ENSURE_ACCOUNT = "INSERT INTO accounts (token) VALUES ($1) ON CONFLICT (token) DO NOTHING"
_ENTRY_COLUMNS = "seq, token, kind, amount_micros, currency, created_at, task_id, model, seconds, note"
_INSERT_ENTRY = (
    "INSERT INTO ledger (token, kind, amount_micros, currency, created_at, task_id, model, seconds, note)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING " + _ENTRY_COLUMNS
)
_IN_FLIGHT = "SELECT COUNT(*) FROM tasks WHERE owner = $1 AND status IN ('queued', 'in_progress')"


def _account(row: Any) -> Account:
    return Account(row[0], from_micros(row[1]), from_micros(row[2]), from_micros(row[3]), bool(row[4]))


def _entry(row: Any) -> Entry:
    return Entry(row[0], row[1], row[2], from_micros(row[3]), row[4], row[5], row[6], row[7], row[8], row[9])


class PostgresLedger:
    """Ledger and idempotency queries (mixed into the PostgreSQL store)."""

    _guard: Callable[..., Any]
    _ready: Callable[..., Any]
    _fetch: Callable[..., Any]
    _changed: Callable[..., Any]

    async def _in_transaction(self, work: Callable[[Any], Any]) -> Any:
        async def run() -> Any:
            async with self._ready().acquire() as connection, connection.transaction():
                return await work(connection)

        return await self._guard(run())

    async def _admit(self, task: Task, admission: Admission, insert: tuple[str, Any]) -> None:
        async def work(connection: Any) -> None:
            await connection.execute(_ENSURE_ACCOUNT, task.owner)
            row = await connection.fetchrow(_ACCOUNT + " FOR UPDATE", task.owner)  # one admission per token at a time
            in_flight = None
            if admission.max_in_flight is not None:
                in_flight = await connection.fetchval(_IN_FLIGHT, task.owner)
            check_admission(task, admission, _account(row), in_flight)
            await connection.execute(insert[0], *insert[1])
            if task.cost is not None:
                micros = to_micros(task.cost.amount)
                await connection.execute(
                    "UPDATE accounts SET held_micros = held_micros + $1 WHERE token = $2", micros, task.owner
                )
                await connection.fetchrow(_INSERT_ENTRY, *hold_values(task, micros))

        await self._in_transaction(work)

    async def _close(self, task: Task, update: tuple[str, list[Any]]) -> bool:
        async def work(connection: Any) -> bool:
            stored = await connection.fetchrow(
                "SELECT cost_state, cost_amount FROM tasks WHERE id = $1 FOR UPDATE", task.id
            )
            status = await connection.execute(update[0], *update[1])
            if int(status.rpartition(" ")[2]) == 0:
                return False
            owed = closing(task, stored[0], stored[1]) if stored else None
            if owed is None:
                return True
            await connection.execute(
                "UPDATE tasks SET cost_amount = $1, cost_state = $2 WHERE id = $3",
                amount_text(owed.cost.amount),
                owed.cost.state.value,
                task.id,
            )
            seconds = task.result.duration if task.result is not None and task.result.duration else task.seconds
            charged = to_micros(owed.charged)
            await connection.fetchrow(
                _INSERT_ENTRY,
                task.owner,
                owed.kind,
                charged,
                owed.cost.currency,
                task.updated_at,
                task.id,
                task.model,
                float(seconds) if seconds is not None else None,
                None,
            )
            await connection.execute(
                "UPDATE accounts SET held_micros = held_micros - $1, spent_micros = spent_micros + $2 WHERE token = $3",
                to_micros(owed.released),
                charged if owed.kind == EntryKind.SETTLE else 0,
                task.owner,
            )
            task.cost = owed.cost
            return True

        return await self._in_transaction(work)

    async def _credit(self, token: str, amount: Decimal, currency: str, now: float, note: str | None, quota: bool):  # type: ignore[no-untyped-def]
        async def work(connection: Any) -> Entry | None:
            await connection.execute(_ENSURE_ACCOUNT, token)
            if quota:
                status = await connection.execute(
                    "UPDATE accounts SET quota_applied = 1 WHERE token = $1 AND quota_applied = 0", token
                )
                if status.endswith(" 0"):
                    return None
            micros = to_micros(amount)
            await connection.execute(
                "UPDATE accounts SET credit_micros = credit_micros + $1 WHERE token = $2", micros, token
            )
            row = await connection.fetchrow(
                _INSERT_ENTRY, token, EntryKind.CREDIT, micros, currency, now, None, None, None, note
            )
            return _entry(row)

        return await self._in_transaction(work)

    async def credit(self, token: str, amount: Decimal, currency: str, now: float, note: str | None = None) -> Entry:
        """Add ``amount`` (negative: a correction) to the token's credit: a ``credit`` entry."""
        return await self._credit(token, amount, currency, now, note, False)

    async def apply_quota(self, token: str, amount: Decimal, currency: str, now: float) -> Entry | None:
        """Credit the token's configured quota, once ever; None when it was applied before."""
        return await self._credit(token, amount, currency, now, "quota", True)

    async def account(self, token: str) -> Account:
        rows = await self._fetch(_ACCOUNT, token)
        return _account(rows[0]) if rows else Account(token)

    async def accounts(self) -> list[Account]:
        rows = await self._fetch(_ACCOUNT.replace(" WHERE token = $1", " ORDER BY token"))
        return [_account(row) for row in rows]

    async def entries(self, token: str, *, limit: int, before: int | None = None) -> list[Entry]:
        """The token's entries, newest first, those older than the entry ``before`` (a seq)."""
        if before is None:
            sql = f"SELECT {_ENTRY_COLUMNS} FROM ledger WHERE token = $1 ORDER BY seq DESC LIMIT $2"
            rows = await self._fetch(sql, token, limit)
        else:
            sql = f"SELECT {_ENTRY_COLUMNS} FROM ledger WHERE token = $1 AND seq < $3 ORDER BY seq DESC LIMIT $2"
            rows = await self._fetch(sql, token, limit, before)
        return [_entry(row) for row in rows]

    async def usage(self, token: str | None, since: float | None, until: float | None) -> list[ModelUsage]:
        """Settled tasks, their seconds and amounts per token and model, settled in ``[since, until)``."""
        where, args = ["kind = 'settle'"], []
        for clause, value in (("token = ${}", token), ("created_at >= ${}", since), ("created_at < ${}", until)):
            if value is not None:
                args.append(value)
                where.append(clause.format(len(args)))
        sql = (
            "SELECT token, model, COUNT(*), COALESCE(SUM(seconds), 0), SUM(amount_micros) FROM ledger"
            f" WHERE {' AND '.join(where)} GROUP BY token, model ORDER BY token, model"
        )
        rows = await self._fetch(sql, *args)
        return [ModelUsage(row[0], row[1], row[2], float(row[3]), from_micros(int(row[4]))) for row in rows]

    async def claim_key(
        self, token: str, key: str, fingerprint: str, task_id: str, now: float, expired_before: float
    ) -> tuple[str, str, float]:
        """See :meth:`reelay.store.sqlite_ledger.SQLiteLedger.claim_key`."""
        rows = await self._fetch(
            "INSERT INTO idempotency_keys (token, key, fingerprint, task_id, created_at) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (token, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
            " task_id = excluded.task_id, created_at = excluded.created_at"
            " WHERE idempotency_keys.created_at < $6 RETURNING fingerprint, task_id, created_at",
            token,
            key,
            fingerprint,
            task_id,
            now,
            expired_before,
        )
        if not rows:
            rows = await self._fetch(
                "SELECT fingerprint, task_id, created_at FROM idempotency_keys WHERE token = $1 AND key = $2",
                token,
                key,
            )
        return rows[0][0], rows[0][1], rows[0][2]

    async def replace_key(
        self, token: str, key: str, old_task_id: str, fingerprint: str, task_id: str, now: float
    ) -> bool:
        """Take over a key whose submission died before recording its task."""
        changed = await self._changed(
            "UPDATE idempotency_keys SET fingerprint = $1, task_id = $2, created_at = $3"
            " WHERE token = $4 AND key = $5 AND task_id = $6",
            fingerprint,
            task_id,
            now,
            token,
            key,
            old_task_id,
        )
        return changed > 0

    async def release_key(self, token: str, key: str, task_id: str) -> None:
        await self._changed(
            "DELETE FROM idempotency_keys WHERE token = $1 AND key = $2 AND task_id = $3", token, key, task_id
        )
