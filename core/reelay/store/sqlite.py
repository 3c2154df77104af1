"""The embedded store: SQLite in write-ahead-log mode.

One writer connection, one user at a time. Single-row writes (insert,
save) issued during one turn of the event loop run together at the start
of the next turn, on the loop's thread, in one transaction: a commit costs
more than a row, and handing rows to another thread and waking the loop
again costs more than both (bench/RESULTS.md). Other statements (claims,
lists, counts) go to the store's own thread, where statements issued
together also share a transaction. The loop's thread never waits for a
lock: when another process holds it, or the store's thread has the
writer, the rows go to the store's thread, which waits up to
``busy_timeout`` seconds for another process before answering 503.

Point reads by id (every status check) run on the loop thread on a second,
read-only connection: WAL readers never wait for the writer. The reads
asked for in one turn of the event loop are answered together at the start
of the next, by one statement: under load a statement per read cost the
gateway a third of its status-check throughput (bench/RESULTS.md). Checkpoints
run on a third connection and thread, so a write never waits for one.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import structlog

from ..errors import ReelayError
from ..models import Task, TaskStatus
from .batching import Pending, ReadsPerTurn, fail, settle
from .codec import COLUMNS, UPDATED_COLUMNS, from_row, request_json, to_row, to_update_row, vendor_ref_json

log = structlog.get_logger("reelay.store")

_ACTIVE = (TaskStatus.QUEUED.value, TaskStatus.IN_PROGRESS.value)
# Written out, not bound: SQLite uses a partial index only when the query's
# WHERE visibly implies the index's, and a bound parameter never does (the
# poller's claims were full scans of the table).
_IS_ACTIVE = f"status IN ('{_ACTIVE[0]}', '{_ACTIVE[1]}')"
#: Written statements between two checkpoints (SQLite's own default is 1,000 pages).
CHECKPOINT_EVERY = 1000
#: Seconds a write waits for another process's lock before the store is unavailable.
BUSY_TIMEOUT = 5.0
#: How much of the file point reads map into memory.
READ_MMAP_BYTES = 256 * 1024 * 1024


_Outcome = tuple[int, list[Any]] | BaseException
_Pending = tuple[str, Sequence[Any], "asyncio.Future[tuple[int, list[Any]]]"]


def _is_busy(error: sqlite3.Error) -> bool:
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _settle(batch: list[_Pending], outcomes: Sequence[_Outcome]) -> None:
    for (_, _, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():  # the caller went away
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class StoreUnavailable(ReelayError):
    """The database could not run a statement; callers see a 503, never a 500."""

    status = 503
    type = "server_error"
    code = "store_unavailable"


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


class SQLiteStore:
    """Tasks in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: str, *, busy_timeout: float = BUSY_TIMEOUT):
        self.path = path
        self.busy_timeout = busy_timeout
        self._writer: sqlite3.Connection | None = None
        self._writing = threading.Lock()  # held by whichever thread is using the writer
        self._reader: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._pending: list[_Pending] = []  # for the store's thread
        self._inline: list[_Pending] = []  # for the loop's thread, at the start of its next turn
        self._flushing: asyncio.Task[None] | None = None
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpointing: asyncio.Future[Any] | None = None
        self._since_checkpoint = 0
        self._reads = ReadsPerTurn(self._read_together)

    async def open(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelay-sqlite")
        loop = asyncio.get_running_loop()
        self._writer = await loop.run_in_executor(self._thread, self._connect)
        if self.path != ":memory:":  # a second connection to :memory: would be another database
            self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._reader.execute("PRAGMA query_only=1")
            self._reader.execute("PRAGMA busy_timeout=20")
            # Reads map the file rather than copy pages in: with a million tasks
            # (a file larger than the page cache) status reads ran 0.79x as fast
            # as with a thousand, 0.91x mapped. Read-only, so a stray write
            # cannot reach the file; pages touched count as shared, reclaimable memory.
            self._reader.execute(f"PRAGMA mmap_size={READ_MMAP_BYTES}")
            self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelay-sqlite-checkpoint")

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
        self._use_wal(connection)
        connection.execute("PRAGMA synchronous=NORMAL")
        if self.path != ":memory:":
            connection.execute("PRAGMA wal_autocheckpoint=0")  # _checkpoint() does it off the write path
        connection.executescript(_SCHEMA)
        # From now on never wait inside SQLite: the loop's thread must not block, and _begin() waits instead.
        connection.execute("PRAGMA busy_timeout=0")
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """Switch the file to write-ahead logging, waiting for processes opening it at the same time.

        SQLite answers a journal-mode switch that meets another connection
        with SQLITE_BUSY at once, without its busy handler.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    def _maybe_checkpoint(self, written: int) -> None:
        self._since_checkpoint += written
        if self._checkpointer is None or self._since_checkpoint < CHECKPOINT_EVERY or self._checkpointing:
            return
        self._since_checkpoint = 0
        future = asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint)
        self._checkpointing = future
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[Any]) -> None:
        self._checkpointing = None
        if not future.cancelled() and future.exception() is not None:
            log.warning("WAL checkpoint failed; the next one will retry", error=str(future.exception()))

    def _checkpoint(self) -> None:
        """On the checkpoint thread: copy the WAL back into the database without blocking writers."""
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout=5000")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    async def close(self) -> None:
        if self._inline:
            self._flush_inline()
        if self._flushing is not None:
            await self._flushing
        if self._checkpointing is not None:
            await self._checkpointing
        if self._checkpointer is not None:
            self._checkpointer.shutdown(wait=True)
            self._checkpointer = None
        self._reads.flush()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._thread is not None:
            writer, self._writer = self._writer, None
            if writer is not None:
                await asyncio.get_running_loop().run_in_executor(self._thread, writer.close)
            self._thread.shutdown(wait=True)
            self._thread = None

    async def execute(self, sql: str, params: Sequence[Any] = (), *, inline: bool = False) -> tuple[int, list[Any]]:
        """Run one statement: ``(rows changed, rows returned)``.

        ``inline`` statements (single-row writes) issued in one turn of the
        event loop run together, in one transaction, at the start of the
        next turn, on the loop's thread; the rest on the store's thread.
        """
        if self._thread is None:
            raise RuntimeError("the store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, list[Any]]] = loop.create_future()
        if inline:
            self._inline.append((sql, params, future))
            if len(self._inline) == 1:
                loop.call_soon(self._flush_inline)
        else:
            self._queue([(sql, params, future)])
        try:
            return await future
        except sqlite3.OperationalError as error:  # locked past busy_timeout, disk full, ...
            raise StoreUnavailable(f"the task store is unavailable ({error})") from None

    def _queue(self, batch: list[_Pending]) -> None:
        """Hand statements to the store's thread."""
        self._pending.extend(batch)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())

    def _flush_inline(self) -> None:
        """On the loop's thread: this turn's single-row writes, one transaction, never waiting for a lock."""
        batch, self._inline = self._inline, []
        if not batch:  # close() wrote them already
            return
        if not self._writing.acquire(blocking=False):  # the store's thread has the writer
            self._queue(batch)
            return
        outcomes: Sequence[_Outcome] | None
        try:
            outcomes = self._transaction([(sql, params) for sql, params, _ in batch], wait=False)
        except sqlite3.OperationalError as error:
            # Another process is writing: wait for it on the store's thread.
            outcomes = None if _is_busy(error) else [error] * len(batch)
        except Exception as error:  # every caller hears it; nobody waits forever
            outcomes = [error] * len(batch)
        finally:
            self._writing.release()
        if outcomes is None:
            self._queue(batch)
            return
        self._maybe_checkpoint(len(batch))
        _settle(batch, outcomes)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                self._maybe_checkpoint(len(batch))
                try:
                    outcomes = await loop.run_in_executor(self._thread, self._run, [(q, p) for q, p, _ in batch])
                except BaseException as error:  # the thread itself failed: every caller hears it
                    outcomes = [error] * len(batch)
                _settle(batch, outcomes)
        finally:
            self._flushing = None

    def _run(self, batch: list[tuple[str, Sequence[Any]]]) -> list[_Outcome]:
        """On the store's thread: a batch in one transaction, waiting for another process's lock if need be."""
        with self._writing:
            return self._transaction(batch, wait=True)

    def _transaction(self, batch: list[tuple[str, Sequence[Any]]], *, wait: bool) -> list[_Outcome]:
        """Every statement of a batch in one transaction (the caller holds ``_writing``).

        A statement that fails (a constraint, say) fails alone: SQLite keeps
        the transaction and the others' work. Without ``wait``, a lock held
        by another process raises SQLITE_BUSY at once.
        """
        assert self._writer is not None
        connection = self._writer
        if len(batch) == 1 and not wait:  # a statement alone is its own transaction, and cheaper without BEGIN
            cursor = connection.execute(*batch[0])
            return [(cursor.rowcount, cursor.fetchall())]
        self._begin(connection, wait)
        outcomes: list[_Outcome] = []
        try:
            for sql, params in batch:
                try:
                    cursor = connection.execute(sql, params)
                    rows = cursor.fetchall()
                    outcomes.append((cursor.rowcount, rows))
                except sqlite3.Error as error:
                    outcomes.append(error)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return outcomes

    def _begin(self, connection: sqlite3.Connection, wait: bool) -> None:
        """Take the write lock; with ``wait``, retry up to ``busy_timeout`` while another process holds it."""
        deadline = time.monotonic() + self.busy_timeout
        pause = 0.001
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not wait or not _is_busy(error) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def insert(self, task: Task) -> None:
        await self.execute(_INSERT, to_row(task), inline=True)

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        assignments = _SET + ", " + ("request = ?" if with_request else _FORGET_REQUEST)
        values = (*to_update_row(task), request_json(task) if with_request else task.is_terminal)
        if lease is None:
            sql, params = f"UPDATE tasks SET {assignments} WHERE id = ?", (*values, task.id)
        else:
            release = "lease_owner = NULL, lease_until = 0"
            sql = f"UPDATE tasks SET {assignments}, {release} WHERE id = ? AND lease_owner = ?"
            params = (*values, task.id, lease)
        changed, _ = await self.execute(sql, params, inline=True)
        return changed > 0

    async def save_submission(self, task: Task) -> None:
        await self.execute(
            "UPDATE tasks SET channel = ?, vendor_ref = ?, next_poll_at = ?, updated_at = ? WHERE id = ?",
            (task.channel, vendor_ref_json(task), task.next_poll_at, task.updated_at, task.id),
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

    def _read_together(self, batch: list[Pending]) -> None:
        """On the loop's thread: the rows of a turn's point reads, by one statement."""
        reader = self._reader
        try:
            if reader is None:
                raise sqlite3.OperationalError("the store closed")
            if len(batch) == 1:
                rows = reader.execute(_GET_ONE, (batch[0][0],)).fetchall()
            else:
                ids = orjson.dumps([task_id for task_id, _ in batch]).decode()  # text: a BLOB would be read as JSONB
                rows = reader.execute(_GET_MANY, (ids,)).fetchall()
        except sqlite3.Error as error:  # get() asks the store's thread instead
            fail(batch, sqlite3.OperationalError(str(error)))
            return
        settle(batch, rows)

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
