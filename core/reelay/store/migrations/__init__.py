"""Schema changes, in order: THE place the store's schema changes.

Version 1 is the schema the first release created (``tasks`` and its
first indexes; each store's ``_SCHEMA`` still creates it on an empty
database). Every table, index and trigger since, the ones kept beside the
tasks (webhook deliveries, callback tokens, characters, change
notifications) included, is made by one module here named
``vNNNN_what.py`` holding ``SQLITE`` and ``POSTGRES``, the statements for
each engine (an empty string: nothing to do there); adding a migration is
adding one file. Nothing else in the store creates schema.

A migration for something an earlier release created outside this package
says ``IF NOT EXISTS`` (or replaces it), so that store upgrades in place.

On open each store applies what its database lacks, in order, in one
transaction under a lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock``) and records each version in ``schema_version``:
processes starting together apply each migration once; the others wait,
then find nothing left to do. Both engines run DDL in transactions, so a
migration that fails leaves the database as it was.

Why no migration tool: yoyo-migrations and Alembic drive PostgreSQL through
a synchronous driver (psycopg / SQLAlchemy), a second driver and connection
settings beside asyncpg for a dozen lines of version bookkeeping.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import sqlite3
import time

import attrs

#: The version of the schema the first release created.
BASELINE = 1

_MODULE = re.compile(r"v(\d{4})_\w+")

VERSION_TABLE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
)
VERSION_TABLE_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)


@attrs.frozen
class Migration:
    version: int
    name: str
    sqlite: str
    postgres: str


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """Every migration in this package, by version."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        match = _MODULE.fullmatch(module.name)
        if match is None:
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        found.append(Migration(int(match.group(1)), module.name, loaded.SQLITE, loaded.POSTGRES))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] <= BASELINE):
        raise RuntimeError(f"migration versions must be unique and above {BASELINE}: {versions}")
    return tuple(found)


def latest() -> int:
    """The version a migrated store has."""
    return max((migration.version for migration in migrations()), default=BASELINE)


def sqlite_statements(script: str) -> list[str]:
    """A script's statements, one by one (``executescript`` would commit the transaction)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def migrate_sqlite(connection: sqlite3.Connection, busy_timeout: float) -> list[int]:
    """Apply what the file lacks (its connection in autocommit mode); returns the versions applied."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            connection.execute("BEGIN IMMEDIATE")  # the write lock: one process migrates, the others wait
            break
        except sqlite3.OperationalError as error:
            if ("locked" not in str(error) and "busy" not in str(error)) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    applied: list[int] = []
    try:
        connection.execute(VERSION_TABLE_SQLITE)
        done = {row[0] for row in connection.execute("SELECT version FROM schema_version")}
        for migration in migrations():
            if migration.version in done:
                continue
            for statement in sqlite_statements(migration.sqlite):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            applied.append(migration.version)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return applied


async def migrate_postgres(connection, lock: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Apply what the database lacks, under the advisory lock ``lock``; returns the versions applied.

    A database already at the latest version is only read: a user allowed
    only rows may open it.
    """
    if await connection.fetchval("SELECT to_regclass('schema_version') IS NOT NULL"):
        current = await connection.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        if current >= latest():
            return []
    applied: list[int] = []
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", lock)
        await connection.execute(VERSION_TABLE_POSTGRES)
        done = {row[0] for row in await connection.fetch("SELECT version FROM schema_version")}
        for migration in migrations():
            if migration.version in done:
                continue
            if migration.postgres.strip():
                await connection.execute(migration.postgres)
            await connection.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                time.time(),
            )
            applied.append(migration.version)
    return applied
