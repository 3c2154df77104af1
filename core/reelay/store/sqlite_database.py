"""One SQLite file behind three connections, for the store: statements batched per turn of the event loop.

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

Point reads by key run on the loop thread on a second, read-only
connection: WAL readers never wait for the writer. The reads asked for in
one turn of the event loop are answered together at the start of the next,
by one statement. Checkpoints run on a third connection and thread, so a
write never waits for one.

Nothing here knows tasks: :mod:`reelay.store.sqlite` holds the schema and the queries.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import structlog

from ..errors import ReelayError
from .batching import Pending, ReadsPerTurn, fail, settle

log = structlog.get_logger("reelay.store")

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


#: The statement that stands for a transact() callable in a batch.
_TRANSACT = "-- reelay: transact"


def _statement(connection: sqlite3.Connection, sql: str, params: Sequence[Any]) -> _Outcome:
    """One statement of a batch (or a transact() callable); its failure is its outcome."""
    if sql is _TRANSACT:
        return _savepoint(connection, params[0])
    try:
        cursor = connection.execute(sql, params)
        return (cursor.rowcount, cursor.fetchall())
    except sqlite3.Error as error:
        return error


def _savepoint(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], Any]) -> _Outcome:
    connection.execute("SAVEPOINT reelay_work")
    try:
        result = work(connection)
    except Exception as error:
        connection.execute("ROLLBACK TO reelay_work")
        connection.execute("RELEASE reelay_work")
        return error
    connection.execute("RELEASE reelay_work")
    return (0, result)


def _alone(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], Any]) -> _Outcome:
    """A transact() callable alone in its transaction: what it raises rolls the transaction back."""
    try:
        return (0, work(connection))
    except Exception as error:
        connection.execute("ROLLBACK")
        return error


class StoreUnavailable(ReelayError):
    """The database could not run a statement; callers see a 503, never a 500."""

    status = 503
    type = "server_error"
    code = "store_unavailable"


class SQLiteDatabase:
    """A SQLite file (or ``:memory:``) in write-ahead-log mode, statements run by :meth:`execute`.

    :param path: the file.
    :param schema: the script run at open (``CREATE ... IF NOT EXISTS``).
    :param read_one: the point read of one key (one ``?``); its rows' first column is the key.
    :param read_many: the point read of several keys (one ``?``: a JSON array of them).
    :param busy_timeout: seconds a write waits for another process's lock.
    """

    def __init__(self, path: str, *, schema: str, read_one: str, read_many: str, busy_timeout: float = BUSY_TIMEOUT):
        self.path = path
        self.busy_timeout = busy_timeout
        self._schema = schema
        self._read_one = read_one
        self._read_many = read_many
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
        self._reads = ReadsPerTurn(self._read_together)  # point reads, by key

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
        connection.executescript(self._schema)
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

    async def transact(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``work(writer)`` all or nothing (a savepoint) under the write lock, batched
        like an ``inline`` statement; what it raises rolls it back and reaches the caller."""
        _, result = await self.execute(_TRANSACT, (work,), inline=True)
        return result

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
        if len(batch) == 1 and not wait and batch[0][0] is not _TRANSACT:  # alone, cheaper without BEGIN
            cursor = connection.execute(*batch[0])
            return [(cursor.rowcount, cursor.fetchall())]
        self._begin(connection, wait)
        outcomes: list[_Outcome] = []
        try:
            if len(batch) == 1 and batch[0][0] is _TRANSACT:  # alone: the transaction is its savepoint
                outcomes.append(_alone(connection, batch[0][1][0]))
            else:
                for sql, params in batch:
                    outcomes.append(_statement(connection, sql, params))
            if connection.in_transaction:  # _alone() rolled it back
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

    def _read_together(self, batch: list[Pending]) -> None:
        """On the loop's thread: the rows of a turn's point reads (``self._reads.ask(key)``), by one statement."""
        reader = self._reader
        try:
            if reader is None:
                raise sqlite3.OperationalError("the store closed")
            if len(batch) == 1:
                rows = reader.execute(self._read_one, (batch[0][0],)).fetchall()
            else:
                keys = orjson.dumps([key for key, _ in batch]).decode()  # text: a BLOB would be read as JSONB
                rows = reader.execute(self._read_many, (keys,)).fetchall()
        except sqlite3.Error as error:  # the caller asks the store's thread instead
            fail(batch, sqlite3.OperationalError(str(error)))
            return
        settle(batch, rows)
