"""The embedded store: SQLite in write-ahead-log mode.

Writes and scans go through aiosqlite, on the connection's own thread, so a
WAL checkpoint never blocks the event loop. Point reads by id (every status
check) run on the loop thread on a second, read-only connection: an indexed
read takes microseconds, less than a hand-off to another thread, and WAL
readers never wait for the writer.
"""

from __future__ import annotations

import asyncio
import sqlite3

import aiosqlite

from ..models import Task, TaskStatus
from .codec import COLUMNS, UPDATED_COLUMNS, from_row, request_json, to_row, to_update_row

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
# The stored request can hold base64 images: only recovery needs it.
_LIGHT_COLUMNS = ", ".join("NULL" if column == "request" else column for column in COLUMNS)
_SELECT_LIGHT = f"SELECT {_LIGHT_COLUMNS} FROM tasks"
_INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
_SET = ", ".join(f"{column} = ?" for column in UPDATED_COLUMNS)
# A finished task no longer needs its request (nor the images in it).
_FORGET_REQUEST = "request = CASE WHEN ? THEN NULL ELSE request END"


class SQLiteStore:
    """Tasks in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str):
        self.path = path
        self._db: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._claim_lock = asyncio.Lock()

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
        if self.path != ":memory:":  # a second connection to :memory: would be another database
            self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._reader.execute("PRAGMA query_only=1")
            self._reader.execute("PRAGMA busy_timeout=20")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def insert(self, task: Task) -> None:
        await self.db.execute(_INSERT, to_row(task))

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        assignments = _SET + ", " + ("request = ?" if with_request else _FORGET_REQUEST)
        values = (*to_update_row(task), request_json(task) if with_request else task.is_terminal)
        if lease is None:
            sql, params = f"UPDATE tasks SET {assignments} WHERE id = ?", (*values, task.id)
        else:
            release = "lease_owner = NULL, lease_until = 0"
            sql = f"UPDATE tasks SET {assignments}, {release} WHERE id = ? AND lease_owner = ?"
            params = (*values, task.id, lease)
        cursor = await self.db.execute(sql, params)
        return cursor.rowcount > 0

    async def save_submission(self, task: Task) -> None:
        await self.db.execute(
            "UPDATE tasks SET channel = ?, vendor_ref = ?, next_poll_at = ?, updated_at = ? WHERE id = ?",
            (task.channel, to_row(task)[COLUMNS.index("vendor_ref")], task.next_poll_at, task.updated_at, task.id),
        )

    async def get(self, task_id: str, *, with_request: bool = False) -> Task | None:
        sql = (_SELECT if with_request else _SELECT_LIGHT) + " WHERE id = ?"
        if self._reader is not None and not with_request:
            try:
                row = self._reader.execute(sql, (task_id,)).fetchone()
            except sqlite3.OperationalError:  # busy in a rare WAL recovery: ask the writer's thread
                row = None
            else:
                return from_row(row) if row is not None else None
        rows = await self.db.execute_fetchall(sql, (task_id,))
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
        rows = await self.db.execute_fetchall(sql, params)
        return [from_row(row) for row in rows]

    async def delete(self, task_id: str) -> None:
        await self.db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Task]:
        sql = (
            "UPDATE tasks SET lease_owner = ?, lease_until = ? WHERE id IN ("
            " SELECT id FROM tasks WHERE status IN (?, ?) AND next_poll_at <= ? AND lease_until < ?"
            " ORDER BY next_poll_at LIMIT ?) RETURNING " + _LIGHT_COLUMNS
        )
        params = (lease, now + lease_seconds, *_ACTIVE, now, now, limit)
        async with self._claim_lock:
            rows = await self.db.execute_fetchall(sql, params)
        return [from_row(row) for row in rows]

    async def release_leases(self, lease: str) -> None:
        await self.db.execute("UPDATE tasks SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = ?", (lease,))

    async def next_due(self) -> float | None:
        # A leased task is not due again before its lease ends (or its poll frees it).
        sql = "SELECT MIN(MAX(next_poll_at, lease_until)) FROM tasks WHERE status IN (?, ?)"
        rows = await self.db.execute_fetchall(sql, _ACTIVE)
        return rows[0][0] if rows else None

    async def count(self) -> int:
        rows = await self.db.execute_fetchall("SELECT COUNT(*) FROM tasks")
        return int(rows[0][0]) if rows else 0
