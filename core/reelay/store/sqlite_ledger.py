"""The ledger and idempotency keys in SQLite: the queries :class:`~reelay.store.sqlite.SQLiteStore` inherits.

Holds and closings run as :meth:`SQLiteDatabase.transact` work: under the
write lock, with the task's own insert or save, all or nothing.
"""

from __future__ import annotations

import sqlite3
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

_ACCOUNT = "SELECT token, credit_micros, held_micros, spent_micros, quota_applied FROM accounts WHERE token = ?"
_ENSURE_ACCOUNT = "INSERT INTO accounts (token) VALUES (?) ON CONFLICT (token) DO NOTHING"
# A limited token's hold, added only when its balance covers it (rowcount 0: refused).
_HOLD_IF_COVERED = (
    "UPDATE accounts SET held_micros = held_micros + ?"
    " WHERE token = ? AND credit_micros - held_micros - spent_micros >= ?"
)
# One statement for "make the account if need be, and add the hold" (an upsert).
_HOLD = (
    "INSERT INTO accounts (token, held_micros) VALUES (?, ?)"
    " ON CONFLICT (token) DO UPDATE SET held_micros = held_micros + excluded.held_micros"
)
_ENTRY_COLUMNS = "seq, token, kind, amount_micros, currency, created_at, task_id, model, seconds, note"
_INSERT_ENTRY = (
    "INSERT INTO ledger (token, kind, amount_micros, currency, created_at, task_id, model, seconds, note)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_IN_FLIGHT = "SELECT COUNT(*) FROM tasks WHERE owner = ? AND status IN ('queued', 'in_progress')"


def account_from_row(row: Any) -> Account:
    return Account(row[0], from_micros(row[1]), from_micros(row[2]), from_micros(row[3]), bool(row[4]))


def entry_from_row(row: Any) -> Entry:
    return Entry(row[0], row[1], row[2], from_micros(row[3]), row[4], row[5], row[6], row[7], row[8], row[9])


def admit(task: Task, admission: Admission, insert: tuple[str, Any], connection: sqlite3.Connection) -> None:
    """Check the task fits, insert it and write its hold (inside a transaction: SQLite's one
    writer admits one task at a time; what this raises rolls it all back)."""
    if admission.max_in_flight is not None:
        in_flight = connection.execute(_IN_FLIGHT, (task.owner,)).fetchone()[0]
        check_admission(task, Admission(max_in_flight=admission.max_in_flight), None, in_flight)
    connection.execute(*insert)
    if task.cost is None:
        return
    micros = to_micros(task.cost.amount)
    # A limited token's balance is checked and its hold added by one statement, in
    # integer micros; the account is read (and turned into Decimals) only to refuse.
    if not admission.limited or connection.execute(_HOLD_IF_COVERED, (micros, task.owner, micros)).rowcount == 0:
        if admission.limited:
            row = connection.execute(_ACCOUNT, (task.owner,)).fetchone()
            check_admission(task, admission, account_from_row(row) if row else None, None)  # raises: refused
        connection.execute(_HOLD, (task.owner, micros))  # unlimited, or a free task on a new account
    connection.execute(_INSERT_ENTRY, hold_values(task, micros))


def close(task: Task, update: tuple[str, Any], now: float, connection: sqlite3.Connection) -> bool:
    """Save a terminal task; settle or refund its hold if the stored task still shows it."""
    stored = connection.execute("SELECT cost_state, cost_amount FROM tasks WHERE id = ?", (task.id,)).fetchone()
    if connection.execute(*update).rowcount == 0:
        return False
    owed = closing(task, *stored) if stored else None
    if owed is None:
        return True
    connection.execute(
        "UPDATE tasks SET cost_amount = ?, cost_state = ? WHERE id = ?",
        (amount_text(owed.cost.amount), owed.cost.state.value, task.id),
    )
    seconds = task.result.duration if task.result is not None and task.result.duration else task.seconds
    connection.execute(
        _INSERT_ENTRY,
        (task.owner, owed.kind, to_micros(owed.charged), owed.cost.currency, now, task.id, task.model, seconds, None),
    )
    spent = to_micros(owed.charged) if owed.kind == EntryKind.SETTLE else 0
    connection.execute(
        "UPDATE accounts SET held_micros = held_micros - ?, spent_micros = spent_micros + ? WHERE token = ?",
        (to_micros(owed.released), spent, task.owner),
    )
    task.cost = owed.cost
    return True


def _credit(token: str, amount: Decimal, currency: str, now: float, note: str | None, *, quota: bool) -> Callable:
    def work(connection: sqlite3.Connection) -> Entry | None:
        connection.execute(_ENSURE_ACCOUNT, (token,))
        if quota:
            changed = connection.execute(
                "UPDATE accounts SET quota_applied = 1 WHERE token = ? AND quota_applied = 0", (token,)
            ).rowcount
            if not changed:
                return None
        micros = to_micros(amount)
        connection.execute("UPDATE accounts SET credit_micros = credit_micros + ? WHERE token = ?", (micros, token))
        cursor = connection.execute(
            _INSERT_ENTRY + " RETURNING " + _ENTRY_COLUMNS,
            (token, EntryKind.CREDIT, micros, currency, now, None, None, None, note),
        )
        return entry_from_row(cursor.fetchone())

    return work


class SQLiteLedger:
    """Ledger and idempotency queries (mixed into the SQLite store)."""

    execute: Callable[..., Any]
    transact: Callable[..., Any]

    async def credit(self, token: str, amount: Decimal, currency: str, now: float, note: str | None = None) -> Entry:
        """Add ``amount`` (negative: a correction) to the token's credit: a ``credit`` entry."""
        return await self.transact(_credit(token, amount, currency, now, note, quota=False))

    async def apply_quota(self, token: str, amount: Decimal, currency: str, now: float) -> Entry | None:
        """Credit the token's configured quota, once ever; None when it was applied before."""
        return await self.transact(_credit(token, amount, currency, now, "quota", quota=True))

    async def account(self, token: str) -> Account:
        _, rows = await self.execute(_ACCOUNT, (token,))
        return account_from_row(rows[0]) if rows else Account(token)

    async def accounts(self) -> list[Account]:
        _, rows = await self.execute(_ACCOUNT.replace(" WHERE token = ?", " ORDER BY token"))
        return [account_from_row(row) for row in rows]

    async def entries(self, token: str, *, limit: int, before: int | None = None) -> list[Entry]:
        """The token's entries, newest first, those older than the entry ``before`` (a seq)."""
        where, params = "token = ?", [token]
        if before is not None:
            where += " AND seq < ?"
            params.append(before)
        sql = f"SELECT {_ENTRY_COLUMNS} FROM ledger WHERE {where} ORDER BY seq DESC LIMIT ?"
        _, rows = await self.execute(sql, (*params, limit))
        return [entry_from_row(row) for row in rows]

    async def usage(self, token: str | None, since: float | None, until: float | None) -> list[ModelUsage]:
        """Settled tasks, their seconds and amounts per token and model, settled in ``[since, until)``."""
        where, params = ["kind = 'settle'"], []
        for clause, value in (("token = ?", token), ("created_at >= ?", since), ("created_at < ?", until)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = (
            "SELECT token, model, COUNT(*), COALESCE(SUM(seconds), 0), SUM(amount_micros) FROM ledger"
            f" WHERE {' AND '.join(where)} GROUP BY token, model ORDER BY token, model"
        )
        _, rows = await self.execute(sql, params)
        return [ModelUsage(row[0], row[1], row[2], float(row[3]), from_micros(row[4])) for row in rows]

    # ------------------------------------------------------------ idempotency keys

    async def claim_key(
        self, token: str, key: str, fingerprint: str, task_id: str, now: float, expired_before: float
    ) -> tuple[str, str, float]:
        """Record the key for ``task_id`` unless a live one exists; the row now stored
        ``(fingerprint, task_id, created_at)``: ours when its task id is ``task_id``."""

        def work(connection: sqlite3.Connection) -> tuple[str, str, float]:
            connection.execute(
                "INSERT INTO idempotency_keys (token, key, fingerprint, task_id, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (token, key) DO UPDATE SET fingerprint = excluded.fingerprint,"
                " task_id = excluded.task_id, created_at = excluded.created_at"
                " WHERE idempotency_keys.created_at < ?",
                (token, key, fingerprint, task_id, now, expired_before),
            )
            row = connection.execute(
                "SELECT fingerprint, task_id, created_at FROM idempotency_keys WHERE token = ? AND key = ?",
                (token, key),
            ).fetchone()
            return row[0], row[1], row[2]

        return await self.transact(work)

    async def replace_key(
        self, token: str, key: str, old_task_id: str, fingerprint: str, task_id: str, now: float
    ) -> bool:
        """Take over a key whose submission died before recording its task."""
        changed, _ = await self.execute(
            "UPDATE idempotency_keys SET fingerprint = ?, task_id = ?, created_at = ?"
            " WHERE token = ? AND key = ? AND task_id = ?",
            (fingerprint, task_id, now, token, key, old_task_id),
            inline=True,
        )
        return changed > 0

    async def release_key(self, token: str, key: str, task_id: str) -> None:
        await self.execute(
            "DELETE FROM idempotency_keys WHERE token = ? AND key = ? AND task_id = ?",
            (token, key, task_id),
            inline=True,
        )
