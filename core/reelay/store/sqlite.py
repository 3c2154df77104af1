"""The embedded store: tasks in SQLite, in write-ahead-log mode.

How statements reach the file (batched per turn of the event loop, point
reads on a read-only connection, checkpoints off the write path) is
:class:`~reelay.store.sqlite_database.SQLiteDatabase`'s job; this module
holds the first release's schema (later versions: :mod:`reelay.store.migrations`)
and the task queries.
"""

from __future__ import annotations

import functools
import sqlite3

from ..models import Task, TaskStatus
from . import sqlite_ledger
from .codec import COLUMNS, UPDATED_COLUMNS, filters, from_row, request_json, to_row, to_update_row, vendor_ref_json
from .ledger import Admission
from .migrations import migrate_sqlite
from .sqlite_database import BUSY_TIMEOUT, SQLiteDatabase, StoreUnavailable

__all__ = ["SQLiteStore", "StoreUnavailable"]

_ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.IN_PROGRESS.value)
# Written out, not bound: SQLite uses a partial index only when the query's
# WHERE visibly implies the index's, and a bound parameter never does (the
# poller's claims were full scans of the table).
_IS_ACTIVE = f"status IN ('{_ACTIVE[0]}', '{_ACTIVE[1]}')"

# The first release's schema (version 1); everything since is a migration (reelay.store.migrations).
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    model TEXT NOT NULL,
    vendor TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL,
    seconds INTEGER,
    size TEXT,
    prompt TEXT,
    vendor_ref TEXT,
    result TEXT,
    error TEXT,
    adjustments TEXT,
    request TEXT,
    next_poll_at REAL NOT NULL DEFAULT 0,
    poll_failures INTEGER NOT NULL DEFAULT 0,
    remixed_from TEXT,
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tasks_owner_created ON tasks (owner, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (next_poll_at) WHERE {_IS_ACTIVE};
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks (lease_until) WHERE lease_owner IS NOT NULL;
"""

_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM tasks"
# The stored request can hold base64 images: only recovery needs it.
_LIGHT_COLUMNS = ", ".join("NULL" if column == "request" else column for column in COLUMNS)
_SELECT_LIGHT = f"SELECT {_LIGHT_COLUMNS} FROM tasks"
_GET_ONE = f"{_SELECT_LIGHT} WHERE id = ?"
_GET_MANY = f"{_SELECT_LIGHT} WHERE id IN (SELECT value FROM json_each(?))"
_INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
_SET = ", ".join(f"{column} = ?" for column in UPDATED_COLUMNS)
# A finished task no longer needs its request (nor the images in it).
_FORGET_REQUEST = "request = CASE WHEN ? THEN NULL ELSE request END"


class SQLiteStore(sqlite_ledger.SQLiteLedger, SQLiteDatabase):
    """Tasks in one SQLite file (or ``:memory:``), and the ledger."""

    #: The SQL dialect of :meth:`execute` (``?`` placeholders), for tables kept beside the tasks.
    dialect = "sqlite"

    def __init__(self, path: str, *, busy_timeout: float = BUSY_TIMEOUT):
        super().__init__(path, schema=_SCHEMA, read_one=_GET_ONE, read_many=_GET_MANY, busy_timeout=busy_timeout)

    def _connect(self) -> sqlite3.Connection:
        connection = super()._connect()
        migrate_sqlite(connection, self.busy_timeout)  # the first release's schema, brought up to date
        return connection

    async def insert(self, task: Task, *, admission: Admission | None = None) -> None:
        """Record a new task; with a cost or an ``admission``, check it fits (:class:`Refused`
        otherwise, nothing written) and write its hold, in one transaction."""
        if task.cost is None and admission is None:
            await self.execute(_INSERT, to_row(task), inline=True)
            return
        admission = admission or Admission()
        await self.transact(functools.partial(sqlite_ledger.admit, task, admission, (_INSERT, to_row(task))))

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        assignments = _SET + ", " + ("request = ?" if with_request else _FORGET_REQUEST)
        values = (*to_update_row(task), request_json(task) if with_request else task.is_terminal)
        # An ended task keeps its end: a late cancel, or a poller that read the task
        # before it ended, changes nothing (and is told so: False).
        where = f"id = ? AND ({_IS_ACTIVE} OR status = ?)"
        if lease is None:
            sql, params = f"UPDATE tasks SET {assignments} WHERE {where}", (*values, task.id, task.status.value)
        else:
            release = "lease_owner = NULL, lease_until = 0"
            sql = f"UPDATE tasks SET {assignments}, {release} WHERE {where} AND lease_owner = ?"
            params = (*values, task.id, task.status.value, lease)
        if task.cost is not None and task.is_terminal:  # the settle or refund commits with the state
            return await self.transact(functools.partial(sqlite_ledger.close, task, (sql, params), task.updated_at))
        changed, _ = await self.execute(sql, params, inline=True)
        return changed > 0

    async def save_submission(self, task: Task) -> None:
        await self.execute(
            "UPDATE tasks SET channel = ?, key_index = ?, vendor_ref = ?, next_poll_at = ?, updated_at = ?"
            " WHERE id = ?",
            (task.channel, task.key_index, vendor_ref_json(task), task.next_poll_at, task.updated_at, task.id),
            inline=True,
        )

    async def get(self, task_id: str, *, with_request: bool = False) -> Task | None:
        if self._reader is not None and not with_request:
            try:
                row = await self._reads.ask(task_id)
            except sqlite3.OperationalError:  # busy in a rare WAL recovery: ask the writer's thread
                pass
            else:
                return from_row(row) if row is not None else None
        sql = (_SELECT if with_request else _SELECT_LIGHT) + " WHERE id = ?"
        _, rows = await self.execute(sql, (task_id,))
        return from_row(rows[0]) if rows else None

    async def list(self, owner: str, *, limit: int, after: str | None = None, descending: bool = True) -> list[Task]:
        order = "DESC" if descending else "ASC"
        params: list[object] = [owner]
        where = "owner = ?"
        if after is not None:
            anchor = await self.get(after)
            if anchor is None or anchor.owner != owner:
                return []
            compare = "<" if descending else ">"
            where += f" AND (created_at, id) {compare} (?, ?)"
            params += [anchor.created_at, anchor.id]
        params.append(limit)
        sql = f"{_SELECT_LIGHT} WHERE {where} ORDER BY created_at {order}, id {order} LIMIT ?"
        _, rows = await self.execute(sql, params)
        return [from_row(row) for row in rows]

    async def delete(self, task_id: str) -> None:
        await self.execute("DELETE FROM tasks WHERE id = ?", (task_id,), inline=True)

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Task]:
        sql = (
            "UPDATE tasks SET lease_owner = ?, lease_until = ? WHERE id IN ("
            f" SELECT id FROM tasks WHERE {_IS_ACTIVE} AND next_poll_at <= ? AND lease_until < ?"
            " ORDER BY next_poll_at LIMIT ?) RETURNING " + _LIGHT_COLUMNS
        )
        params = (lease, now + lease_seconds, now, now, limit)
        _, rows = await self.execute(sql, params)
        return [from_row(row) for row in rows]

    async def release_leases(self, lease: str) -> None:
        await self.execute("UPDATE tasks SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", (lease,))

    async def next_due(self) -> float | None:
        # The first unleased task in poll order, or the first lease to end
        # (a live poller's poll frees its task sooner), whichever comes first:
        # each an index lookup, however many tasks the store holds.
        sql = (
            f"SELECT (SELECT next_poll_at FROM tasks WHERE {_IS_ACTIVE} AND lease_owner IS NULL"
            " ORDER BY next_poll_at LIMIT 1),"
            f" (SELECT MIN(lease_until) FROM tasks WHERE lease_owner IS NOT NULL AND {_IS_ACTIVE})"
        )
        _, rows = await self.execute(sql)
        times = [value for value in rows[0] if value is not None] if rows else []
        return min(times, default=None)

    async def completed_since(self, since: float, *, limit: int) -> list[Task]:
        sql = (
            f"{_SELECT_LIGHT} WHERE status = ? AND completed_at >= ?"
            " AND json_extract(result, '$.path') IS NULL ORDER BY completed_at LIMIT ?"
        )
        _, rows = await self.execute(sql, (TaskStatus.COMPLETED.value, since, limit))
        return [from_row(row) for row in rows]

    async def count(self) -> int:
        _, rows = await self.execute("SELECT COUNT(*) FROM tasks")
        return int(rows[0][0]) if rows else 0

    async def count_by_status(self) -> dict[str, int]:
        # Walks the status index only (a covering scan): no table rows are read.
        _, rows = await self.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {status: int(count) for status, count in rows}

    async def list_all(
        self,
        *,
        limit: int,
        after: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        owner: str | None = None,
    ) -> list[Task]:
        where, params = filters(status=status, channel=channel, owner=owner, placeholder=lambda _: "?")
        if after is not None:
            anchor = await self.get(after)
            if anchor is None:
                return []
            where.append("(created_at, id) < (?, ?)")
            params += [anchor.created_at, anchor.id]
        clause = " WHERE " + " AND ".join(where) if where else ""
        sql = f"{_SELECT_LIGHT}{clause} ORDER BY created_at DESC, id DESC LIMIT ?"
        _, rows = await self.execute(sql, [*params, limit])
        return [from_row(row) for row in rows]

    async def count_active_by_channel(self) -> dict[str, int]:
        _, rows = await self.execute(f"SELECT channel, COUNT(*) FROM tasks WHERE {_IS_ACTIVE} GROUP BY channel")
        return {channel: int(count) for channel, count in rows}
