"""The embedded store: SQLite in write-ahead-log mode, through aiosqlite.

aiosqlite runs every statement on the connection's own thread, so a WAL
checkpoint never blocks the event loop.
"""

from __future__ import annotations

import asyncio

import aiosqlite

from ..models import Task, TaskStatus
from .codec import COLUMNS, from_row, to_row

_ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.IN_PROGRESS.value)

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
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (next_poll_at)
    WHERE status IN ('{_ACTIVE[0]}', '{_ACTIVE[1]}');
"""

_SELECT = "SELECT " + ", ".join(COLUMNS) + " FROM tasks"
_INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
_SET = ", ".join(f"{column} = ?" for column in COLUMNS[1:])


class SQLiteStore:
    """Tasks in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str):
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._db.executescript(_SCHEMA)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def insert(self, task: Task) -> None:
        await self.db.execute(_INSERT, to_row(task))

    async def save(self, task: Task, *, lease: str | None = None) -> bool:
        row = to_row(task)
        if lease is None:
            cursor = await self.db.execute(f"UPDATE tasks SET {_SET} WHERE id = ?", (*row[1:], task.id))
        else:
            cursor = await self.db.execute(
                f"UPDATE tasks SET {_SET}, lease_owner = NULL, lease_until = 0 WHERE id = ? AND lease_owner = ?",
                (*row[1:], task.id, lease),
            )
        return cursor.rowcount > 0

    async def get(self, task_id: str) -> Task | None:
        async with self.db.execute(_SELECT + " WHERE id = ?", (task_id,)) as cursor:
            row = await cursor.fetchone()
        return from_row(row) if row is not None else None

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
        sql = f"{_SELECT} WHERE {where} ORDER BY created_at {order}, id {order} LIMIT ?"
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [from_row(row) for row in rows]

    async def delete(self, task_id: str) -> None:
        await self.db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Task]:
        sql = (
            "UPDATE tasks SET lease_owner = ?, lease_until = ? WHERE id IN ("
            " SELECT id FROM tasks WHERE status IN (?, ?) AND next_poll_at <= ? AND lease_until < ?"
            " ORDER BY next_poll_at LIMIT ?) RETURNING " + ", ".join(COLUMNS)
        )
        params = (lease, now + lease_seconds, *_ACTIVE, now, now, limit)
        async with self._write_lock, self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [from_row(row) for row in rows]

    async def release_leases(self, lease: str) -> None:
        await self.db.execute("UPDATE tasks SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", (lease,))

    async def next_due(self) -> float | None:
        # A leased task is not due again before its lease ends (or its poll frees it).
        sql = "SELECT MIN(MAX(next_poll_at, lease_until)) FROM tasks WHERE status IN (?, ?)"
        async with self.db.execute(sql, _ACTIVE) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def count(self) -> int:
        async with self.db.execute("SELECT COUNT(*) FROM tasks") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
