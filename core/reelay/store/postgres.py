"""The shared store: PostgreSQL through an asyncpg connection pool.

Several gateway processes can use one database. Each poller claims due
tasks with ``FOR UPDATE SKIP LOCKED`` under a lease of its own, so two
processes never poll the same task, and a poller's save lands only while
its lease still holds the task.

URL: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (or ``postgres://``).
``?pool_size=N`` is the most connections one process opens (default
:data:`POOL_SIZE`); asyncpg takes the other query parameters (``sslmode``,
or server settings such as ``search_path``). The URL's password never
appears in an error message or a log line.

The schema is created on :meth:`PostgresStore.open` if missing and brought
up to date (:mod:`reelay.store.migrations`), under an advisory lock, so
processes starting together do not race. Needs the
``postgres`` extra: ``pip install 'reelay[postgres]'``.
"""

from __future__ import annotations

import asyncio
import operator
import re
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import asyncpg

from ..models import Task, TaskStatus
from . import StoreUnavailable
from .batching import Pending, ReadsPerTurn, fail, settle
from .codec import (
    BASE_COLUMNS,
    COLUMNS,
    UPDATED_COLUMNS,
    filters,
    from_row,
    request_json,
    to_row,
    to_update_row,
    vendor_ref_json,
)
from .ledger import Admission
from .migrations import migrate_postgres
from .postgres_ledger import PostgresLedger

T = TypeVar("T")

#: Connections per process unless the URL says ``?pool_size=N``.
POOL_SIZE = 10
#: Seconds to connect, and for one statement, before the store is unavailable.
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 30.0
#: Seconds close() waits for statements in flight before dropping the connections.
CLOSE_TIMEOUT = 10.0
#: The advisory lock that makes concurrent schema creation wait its turn.
SCHEMA_LOCK = 0x7265656C6179  # "reelay"

# Written out, not bound, so the planner sees the partial index applies.
_IS_ACTIVE = "status IN (" + ", ".join(f"'{status.value}'" for status in TaskStatus if not status.is_terminal) + ")"

# The codec's columns and the lease, typed as SQLite's are; any column not
# named here is nullable TEXT (the JSON ones hold the codec's text). Ids and
# owners compare bytewise ("C"), as in SQLite: list pages keep their order
# whatever the database's locale.
_TIME = "DOUBLE PRECISION"
_COLUMN_TYPES = {
    "id": 'TEXT COLLATE "C" PRIMARY KEY',
    "owner": 'TEXT COLLATE "C" NOT NULL',
    **dict.fromkeys(("model", "vendor", "channel", "status"), "TEXT NOT NULL"),
    **dict.fromkeys(("progress", "poll_failures"), "INTEGER NOT NULL DEFAULT 0"),
    **dict.fromkeys(("created_at", "updated_at"), f"{_TIME} NOT NULL"),
    **dict.fromkeys(("next_poll_at", "lease_until"), f"{_TIME} NOT NULL DEFAULT 0"),
    "completed_at": _TIME,
    "seconds": "INTEGER",
}
# The first release's table and indexes (version 1): everything since is a migration (reelay.store.migrations).
_TABLE = ", ".join(
    f"{name} {_COLUMN_TYPES.get(name, 'TEXT')}" for name in (*BASE_COLUMNS, "lease_owner", "lease_until")
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tasks ({_TABLE});
CREATE INDEX IF NOT EXISTS tasks_owner_created ON tasks (owner, created_at, id);
CREATE INDEX IF NOT EXISTS tasks_due ON tasks (next_poll_at) WHERE {_IS_ACTIVE};
CREATE INDEX IF NOT EXISTS tasks_leased ON tasks (lease_until) WHERE lease_owner IS NOT NULL;
"""

#: The table and every index _SCHEMA creates.
_RELATIONS = ["tasks", *re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", _SCHEMA)]
_SCHEMA_EXISTS = "SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest($1::text[]) AS name"

# The stored request can hold base64 images: only recovery needs it.
_LIGHT_COLUMNS = ", ".join("NULL" if column == "request" else column for column in COLUMNS)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM tasks"
_SELECT_LIGHT = f"SELECT {_LIGHT_COLUMNS} FROM tasks"
# Point reads asked for in one turn of the event loop go as one statement.
_GET_MANY = f"{_SELECT_LIGHT} WHERE id = ANY($1::text[])"
_INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"


def _save_statement(*, with_request: bool, leased: bool) -> str:
    """The UPDATE of save(): the updated columns, the request, the id (and the lease) as $1, $2..."""
    request = len(UPDATED_COLUMNS) + 1
    assignments = [f"{column} = ${n}" for n, column in enumerate(UPDATED_COLUMNS, 1)]
    if with_request:
        assignments.append(f"request = ${request}")
    else:  # a finished task no longer needs its request (nor the images in it)
        assignments.append(f"request = CASE WHEN ${request} THEN NULL ELSE request END")
    # An ended task keeps its end: a late cancel, or a poller that read the task
    # before it ended, changes nothing (and is told so: False).
    where = f"id = ${request + 1} AND ({_IS_ACTIVE} OR status = ${request + 2})"
    if leased:
        assignments.append("lease_owner = NULL, lease_until = 0")
        where += f" AND lease_owner = ${request + 3}"
    return f"UPDATE tasks SET {', '.join(assignments)} WHERE {where}"


_SAVE = {
    (with_request, leased): _save_statement(with_request=with_request, leased=leased)
    for with_request in (False, True)
    for leased in (False, True)
}


class _Connection(asyncpg.Connection):
    """A pooled connection handed back as it is.

    The store leaves no session state behind (no cursors, listeners,
    settings or session locks), so asyncpg's reset query on every release
    would cost a round trip per statement for nothing. An open transaction
    is still rolled back.
    """

    def get_reset_query(self) -> str:
        return ""


def _is_unavailable(error: BaseException) -> bool:
    """A failure to reach or use the database, as opposed to a bad statement or value."""
    if isinstance(error, asyncpg.IntegrityConstraintViolationError | ValueError):  # ValueError: asyncpg's own checks
        return False
    return isinstance(
        error,
        OSError  # refused, reset, unreachable
        | TimeoutError  # connecting, or a statement, took too long
        | asyncpg.InterfaceError  # the connection or the pool is closed
        | asyncpg.PostgresConnectionError
        | asyncpg.InvalidAuthorizationSpecificationError  # wrong user or password
        | asyncpg.InvalidCatalogNameError  # no such database
        | asyncpg.InsufficientResourcesError  # disk full, too many connections
        | asyncpg.OperatorInterventionError  # shutting down, starting up, cancelled
        | asyncpg.PostgresSystemError
        | asyncpg.TransactionRollbackError  # deadlock, serialization failure
        | asyncpg.InternalServerError,
    )


class PostgresStore(PostgresLedger):
    """Tasks in a PostgreSQL database, shared by every gateway process that names it, and the ledger."""

    #: The SQL dialect of :meth:`execute` (``$1`` placeholders), for tables kept beside the tasks.
    dialect = "postgresql"

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
        query = parse_qsl(parts.query, keep_blank_values=True)
        sizes = [value for key, value in query if key == "pool_size"]
        self.pool_size = POOL_SIZE
        if sizes:
            if not sizes[-1].isdigit() or int(sizes[-1]) < 1:
                raise ValueError(f"pool_size must be a whole number of connections, at least 1 (not {sizes[-1]!r})")
            self.pool_size = int(sizes[-1])
        # What asyncpg is given: the URL without our own parameter.
        self._dsn = parts._replace(query=urlencode([(key, value) for key, value in query if key != "pool_size"]))
        self._secrets = {secret for secret in (parts.password, *(v for k, v in query if k == "password")) if secret}
        self._secrets |= {unquote(secret) for secret in self._secrets}
        host = parts.netloc.rpartition("@")[2]
        user = f"{parts.username}@" if parts.username else ""
        #: The URL to name in messages: no password, no query.
        self.url = f"{parts.scheme}://{user}{host}{parts.path}"
        self._pool: asyncpg.Pool | None = None
        self._reads = ReadsPerTurn(self._read_together)
        self._answering: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r}, pool_size={self.pool_size})"

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        reason = str(error) or type(error).__name__
        for secret in self._secrets:
            reason = reason.replace(secret, "***")
        return StoreUnavailable(f"the task store is unavailable ({self.url}: {reason})")

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except Exception as error:
            if _is_unavailable(error):
                raise self._unavailable(error) from None
            raise

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        return self._pool

    async def open(self) -> None:
        pool = asyncpg.create_pool(
            self._dsn.geturl(),
            min_size=1,
            max_size=self.pool_size,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            connection_class=_Connection,
        )
        try:
            await self._guard(self._create_schema(pool))
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool

    async def _create_schema(self, pool: asyncpg.Pool) -> None:
        await pool  # connects min_size connections
        async with pool.acquire() as connection:
            # Looked up first: a user allowed only to read and write rows may
            # not run CREATE ... IF NOT EXISTS, even on what exists.
            if not await connection.fetchval(_SCHEMA_EXISTS, _RELATIONS):
                async with connection.transaction():
                    await connection.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
                    await connection.execute(_SCHEMA)
            await migrate_postgres(connection, SCHEMA_LOCK)  # the first release's schema, brought up to date

    async def close(self) -> None:
        self._reads.flush()
        if self._answering:
            await asyncio.gather(*self._answering, return_exceptions=True)
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            pool.terminate()

    async def connect(self) -> asyncpg.Connection:
        """A connection of its own, outside the pool, for LISTEN (:mod:`reelay.store.changes`); the caller closes it."""
        return await self._guard(asyncpg.connect(self._dsn.geturl(), timeout=CONNECT_TIMEOUT))

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        return await self._guard(self._ready().fetch(sql, *args))

    async def _changed(self, sql: str, *args: Any) -> int:
        """Run a write; the number of rows it changed."""
        status = await self._guard(self._ready().execute(sql, *args))
        return int(status.rpartition(" ")[2])

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> tuple[int, list[Any]]:
        """Run one statement (``$1``, ``$2``... placeholders): ``(rows changed, rows returned)``."""

        async def run() -> tuple[int, list[Any]]:
            async with self._ready().acquire() as connection:
                statement = await connection.prepare(sql)
                rows = await statement.fetch(*params)
                count = statement.get_statusmsg().rpartition(" ")[2]
                return (int(count) if count.isdigit() else 0), rows

        return await self._guard(run())

    async def insert(self, task: Task, *, admission: Admission | None = None) -> None:
        """Record a new task; with a cost or an ``admission``, check it fits (:class:`Refused`
        otherwise, nothing written) and write its hold, in one transaction."""
        if task.cost is None and admission is None:
            await self._changed(_INSERT, *to_row(task))
            return
        await self._admit(task, admission or Admission(), (_INSERT, to_row(task)))

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        args = [
            *to_update_row(task),
            request_json(task) if with_request else task.is_terminal,
            task.id,
            task.status.value,
        ]
        if lease is not None:
            args.append(lease)
        if task.cost is not None and task.is_terminal:  # the settle or refund commits with the state
            return await self._close(task, (_SAVE[with_request, lease is not None], args))
        return await self._changed(_SAVE[with_request, lease is not None], *args) > 0

    async def save_submission(self, task: Task) -> None:
        await self._changed(
            "UPDATE tasks SET channel = $1, vendor_ref = $2, next_poll_at = $3, updated_at = $4, key_index = $6"
            " WHERE id = $5",
            task.channel,
            vendor_ref_json(task),
            task.next_poll_at,
            task.updated_at,
            task.id,
            task.key_index,
        )

    async def get(self, task_id: str, *, with_request: bool = False) -> Task | None:
        if with_request:
            row = await self._guard(self._ready().fetchrow(_SELECT + " WHERE id = $1", task_id))
            return from_row(row) if row is not None else None
        # Status checks come in crowds: the reads of one turn share a round trip and a pooled connection.
        row = await self._reads.ask(task_id)
        return from_row(row) if row is not None else None

    def _read_together(self, batch: list[Pending]) -> None:
        answering = asyncio.ensure_future(self._answer(batch))
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)

    async def _answer(self, batch: list[Pending]) -> None:
        try:
            rows = await self._fetch(_GET_MANY, [task_id for task_id, _ in batch])
        except Exception as error:  # every reader hears it (a 503, or the store closed)
            fail(batch, error)
            return
        settle(batch, rows)

    async def list(self, owner: str, *, limit: int, after: str | None = None, descending: bool = True) -> list[Task]:
        order = "DESC" if descending else "ASC"
        where, args = "owner = $1", [owner, limit]
        if after is not None:
            # The anchor's place is read by the same statement; an unknown
            # task, or another owner's, compares as NULL: an empty page.
            compare = "<" if descending else ">"
            where += f" AND (created_at, id) {compare} (SELECT created_at, id FROM tasks WHERE id = $3 AND owner = $1)"
            args.append(after)
        sql = f"{_SELECT_LIGHT} WHERE {where} ORDER BY created_at {order}, id {order} LIMIT $2"
        return [from_row(row) for row in await self._fetch(sql, *args)]

    async def delete(self, task_id: str) -> None:
        await self._changed("DELETE FROM tasks WHERE id = $1", task_id)

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Task]:
        # SKIP LOCKED: rows another process is claiming right now are left to it.
        sql = (
            "UPDATE tasks SET lease_owner = $1, lease_until = $2 WHERE id IN ("
            f" SELECT id FROM tasks WHERE {_IS_ACTIVE} AND next_poll_at <= $3 AND lease_until < $3"
            " ORDER BY next_poll_at LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING " + _LIGHT_COLUMNS
        )
        rows = await self._fetch(sql, lease, now + lease_seconds, now, limit)
        return sorted((from_row(row) for row in rows), key=operator.attrgetter("next_poll_at"))

    async def release_leases(self, lease: str) -> None:
        await self._changed("UPDATE tasks SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1", lease)

    async def next_due(self) -> float | None:
        # The first unleased task in poll order, or the first lease to end,
        # whichever comes first (LEAST skips a NULL): each an index lookup.
        sql = (
            f"SELECT LEAST((SELECT next_poll_at FROM tasks WHERE {_IS_ACTIVE} AND lease_owner IS NULL"
            " ORDER BY next_poll_at LIMIT 1),"
            f" (SELECT MIN(lease_until) FROM tasks WHERE lease_owner IS NOT NULL AND {_IS_ACTIVE}))"
        )
        return await self._guard(self._ready().fetchval(sql))

    async def completed_since(self, since: float, *, limit: int) -> list[Task]:
        sql = (
            f"{_SELECT_LIGHT} WHERE status = $1 AND completed_at >= $2"
            " AND (result::jsonb ->> 'path') IS NULL ORDER BY completed_at LIMIT $3"
        )
        rows = await self._fetch(sql, TaskStatus.COMPLETED.value, since, limit)
        return [from_row(row) for row in rows]

    async def count(self) -> int:
        return int(await self._guard(self._ready().fetchval("SELECT COUNT(*) FROM tasks")))

    async def count_by_status(self) -> dict[str, int]:
        rows = await self._fetch("SELECT status, COUNT(*) FROM tasks GROUP BY status")
        return {row[0]: int(row[1]) for row in rows}

    async def list_all(
        self,
        *,
        limit: int,
        after: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        owner: str | None = None,
    ) -> list[Task]:
        where, params = filters(status=status, channel=channel, owner=owner, placeholder=lambda n: f"${n}")
        if after is not None:
            anchor = await self.get(after)
            if anchor is None:
                return []
            where.append(f"(created_at, id) < (${len(params) + 1}, ${len(params) + 2})")
            params += [anchor.created_at, anchor.id]
        clause = " WHERE " + " AND ".join(where) if where else ""
        sql = f"{_SELECT_LIGHT}{clause} ORDER BY created_at DESC, id DESC LIMIT ${len(params) + 1}"
        rows = await self._fetch(sql, *params, limit)
        return [from_row(row) for row in rows]

    async def count_active_by_channel(self) -> dict[str, int]:
        rows = await self._fetch(f"SELECT channel, COUNT(*) FROM tasks WHERE {_IS_ACTIVE} GROUP BY channel")
        return {row[0]: int(row[1]) for row in rows}
