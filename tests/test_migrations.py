"""The schema's migrations (``reelay.store.migrations``): each upgrades the version before it,
running one twice changes nothing, processes starting together migrate once, and stores made
before the tables beside the tasks were migrations upgrade in place. SQLite and PostgreSQL alike
(PostgreSQL's skip without a server)."""

import ast
import asyncio
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import reelay
from reelay.models import Character, TaskStatus, VendorRef
from reelay.store import migrations, open_store
from reelay.store.callbacks import CallbackTokens
from reelay.store.characters import CharacterTable
from reelay.store.deliveries import Deliveries
from reelay.store.migrations import latest, migrate_postgres, migrate_sqlite, sqlite_statements
from reelay.store.sqlite import _SCHEMA as SQLITE_BASELINE

VERSIONS = [migration.version for migration in migrations.migrations()]

#: What each migration makes, by the name PostgreSQL's ``to_regclass`` and SQLite's ``sqlite_master`` know.
MADE = {
    "v0003_tasks_status": ["tasks_status"],
    "v0004_webhooks": [
        "webhook_deliveries",
        "webhook_deliveries_due",
        "webhook_deliveries_task",
        "webhook_attempts",
        "webhook_attempts_task",
        "webhook_targets",
    ],
    "v0005_callbacks": ["task_callbacks"],
    "v0006_characters": ["characters"],
}

# The tables beside the tasks as the releases before this one made them, outside the
# migrations, on start-up (their statements then, copied here: the code no longer has them).
_BESIDE = """
CREATE TABLE IF NOT EXISTS webhook_deliveries (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, owner TEXT NOT NULL,
    type TEXT NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL, created_at {time} NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at {time} NOT NULL, lease_owner TEXT,
    lease_until {time} NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_task ON webhook_deliveries (task_id);
CREATE TABLE IF NOT EXISTS webhook_attempts (delivery_id TEXT NOT NULL, task_id TEXT NOT NULL,
    attempt INTEGER NOT NULL, at {time} NOT NULL, url TEXT NOT NULL, status_code INTEGER, error TEXT,
    next_retry_at {time}, PRIMARY KEY (delivery_id, attempt));
CREATE INDEX IF NOT EXISTS webhook_attempts_task ON webhook_attempts (task_id, at);
CREATE TABLE IF NOT EXISTS webhook_targets (task_id TEXT PRIMARY KEY, url TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_callbacks (token TEXT PRIMARY KEY, task_id TEXT NOT NULL, vendor TEXT NOT NULL,
    created_at {time} NOT NULL);
CREATE TABLE IF NOT EXISTS characters (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
    model TEXT NOT NULL, vendor TEXT NOT NULL, channel TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,
    vendor_ref TEXT NOT NULL);
INSERT INTO tasks (id, owner, model, vendor, channel, status, created_at, updated_at)
    VALUES ('old', 'team-a', 'm', 'v', 'c', 'in_progress', 1, 1);
INSERT INTO webhook_targets (task_id, url) VALUES ('old', 'https://hooks.example/old');
INSERT INTO task_callbacks (token, task_id, vendor, created_at) VALUES ('tok', 'old', 'v', 1);
INSERT INTO characters (id, owner, name, model, vendor, channel, created_at, vendor_ref)
    VALUES ('char_old', 'team-a', 'Ada', 'm', 'v', 'c', 1, '{{"id": "ref-1", "data": {{}}}}');
"""
_OLD_TRIGGER = """DO $$ BEGIN
CREATE OR REPLACE FUNCTION reelay_task_notify() RETURNS trigger AS $f$
BEGIN PERFORM pg_notify('reelay_task_changed', NEW.id); RETURN NEW; END $f$ LANGUAGE plpgsql;
IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'reelay_task_notify' AND tgrelid = 'tasks'::regclass) THEN
  CREATE TRIGGER reelay_task_notify AFTER UPDATE ON tasks FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.progress IS DISTINCT FROM NEW.progress)
  EXECUTE FUNCTION reelay_task_notify();
END IF;
END $$"""


def only(monkeypatch, count: int) -> None:
    """Make the runner know only the first ``count`` migrations: an earlier release's code."""
    known = migrations.migrations()[:count]
    monkeypatch.setattr(migrations, "migrations", lambda: known)


# ------------------------------------------------------------ the two engines, driven alike


class SQLiteFile:
    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    async def run(self, script: str) -> None:
        connection = sqlite3.connect(self.path)
        connection.executescript(script.format(time="REAL"))
        connection.close()

    async def baseline(self) -> None:
        await self.run(SQLITE_BASELINE.replace("{", "{{").replace("}", "}}"))

    async def migrate(self) -> list[int]:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            return migrate_sqlite(connection, 5.0)
        finally:
            connection.close()

    async def names(self) -> set[str]:
        connection = sqlite3.connect(self.path)
        try:
            return {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        finally:
            connection.close()

    async def versions(self) -> list[int]:
        connection = sqlite3.connect(self.path)
        try:
            return [row[0] for row in connection.execute("SELECT version FROM schema_version ORDER BY version")]
        finally:
            connection.close()

    async def triggers(self) -> int:
        return 0  # SQLite waiters look: no trigger

    async def close(self) -> None:
        pass


class PostgresSchema:
    def __init__(self, url: str, connection):
        self.url = url
        self.connection = connection

    async def run(self, script: str) -> None:
        await self.connection.execute(script.format(time="DOUBLE PRECISION"))

    async def baseline(self) -> None:
        from reelay.store.postgres import _SCHEMA

        await self.connection.execute(_SCHEMA)

    async def migrate(self) -> list[int]:
        from reelay.store.postgres import SCHEMA_LOCK

        return await migrate_postgres(self.connection, SCHEMA_LOCK)

    async def names(self) -> set[str]:
        rows = await self.connection.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        )
        return {row[0] for row in rows}

    async def versions(self) -> list[int]:
        return [row[0] for row in await self.connection.fetch("SELECT version FROM schema_version ORDER BY version")]

    async def triggers(self) -> int:
        return await self.connection.fetchval(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgname = 'reelay_task_notify' AND tgrelid = 'tasks'::regclass"
        )

    async def close(self) -> None:
        await self.connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tasks.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def database(database_url):
    if database_url.startswith("sqlite"):
        yield SQLiteFile(Path(database_url.removeprefix("sqlite:///")))
        return
    import asyncpg

    opened = PostgresSchema(database_url, await asyncpg.connect(database_url))
    try:
        yield opened
    finally:
        await opened.close()


# ------------------------------------------------------------ each migration


@pytest.mark.parametrize("before", range(len(VERSIONS)), ids=[f"from_{v - 1}" for v in VERSIONS])
async def test_each_migration_upgrades_the_version_before_it_and_running_twice_changes_nothing(
    database, monkeypatch, before
):
    await database.baseline()
    with monkeypatch.context() as earlier:
        only(earlier, before)
        assert await database.migrate() == VERSIONS[:before]
    made_before = await database.names()
    assert await database.migrate() == VERSIONS[before:]
    assert await database.migrate() == []  # twice: nothing left to do
    assert await database.versions() == VERSIONS
    names = await database.names()
    for number, migration in enumerate(migrations.migrations()):
        assert set(MADE.get(migration.name, ())) <= (made_before if number < before else names), migration.name
    assert await database.triggers() == (1 if isinstance(database, PostgresSchema) else 0)


#: The migrations that took over what earlier releases made outside them, on start-up.
TAKEN_OVER = ["v0003_tasks_status", "v0004_webhooks", "v0005_callbacks", "v0006_characters", "v0007_task_notify"]


async def test_a_migration_taking_over_earlier_tables_runs_again_over_what_it_made(database):
    """Their statements are idempotent on their own: an earlier release may have made the same objects."""
    await database.baseline()
    assert await database.migrate() == VERSIONS
    for migration in migrations.migrations():
        if migration.name not in TAKEN_OVER:
            continue
        if isinstance(database, PostgresSchema):
            await database.connection.execute(migration.postgres or "SELECT 1")
        else:
            connection = sqlite3.connect(database.path)
            for statement in sqlite_statements(migration.sqlite):
                connection.execute(statement)
            connection.close()
    assert await database.triggers() == (1 if isinstance(database, PostgresSchema) else 0)


@pytest.mark.parametrize("state", ["release_0_1", "ledger_only"])
async def test_a_store_with_tables_made_outside_the_migrations_upgrades_in_place(database, monkeypatch, state):
    """0.1 made the tables beside the tasks on start-up, with no ``schema_version``; the ledger's
    release (version 2) did too, beside its one migration. Their rows survive and are used."""
    await database.baseline()
    if state == "ledger_only":
        with monkeypatch.context() as earlier:
            only(earlier, 1)
            assert await database.migrate() == [2]
    await database.run(_BESIDE)
    if isinstance(database, PostgresSchema):
        await database.run(_OLD_TRIGGER)
    stores = [open_store(database.url) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))  # together: each migration runs once
    try:
        store = stores[0]
        postgres = isinstance(database, PostgresSchema)
        assert (await store.get("old")).status is TaskStatus.IN_PROGRESS
        assert await Deliveries(store, postgres=postgres).target("old") == "https://hooks.example/old"
        assert await CallbackTokens(store, postgres=postgres).find("tok") == ("old", "v")
        table = CharacterTable(store)
        assert (await table.get("char_old")).vendor_ref == VendorRef("ref-1", {})
        await table.insert(Character("char_new", "team-a", "Bo", "m", "v", "c", 2.0, VendorRef("ref-2", {})))
        assert (await CharacterTable(stores[1]).get("char_new")).name == "Bo"
    finally:
        await asyncio.gather(*(store.close() for store in stores))
    assert await database.versions() == VERSIONS
    assert await database.triggers() == (1 if isinstance(database, PostgresSchema) else 0)


async def test_the_task_notify_trigger_notifies_after_the_migration(postgres_url):
    import asyncpg

    from reelay.store.changes import CHANNEL

    store = open_store(postgres_url)
    await store.open()
    listener = await asyncpg.connect(postgres_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[3]))
    try:
        await store.execute(
            "INSERT INTO tasks (id, owner, model, vendor, channel, status, created_at, updated_at)"
            " VALUES ('t1', 'o', 'm', 'v', 'c', 'queued', 1, 1)"
        )
        await store.execute("UPDATE tasks SET status = 'in_progress' WHERE id = 't1'")
        assert await asyncio.wait_for(heard.get(), 5) == "t1"
    finally:
        await listener.close()
        await store.close()


# ------------------------------------------------------------ processes starting together

_MIGRATE_IN_A_PROCESS = """
import asyncio, sqlite3, sys, time
from reelay.store import migrations

url, start = sys.argv[1], float(sys.argv[2])

async def main():
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        time.sleep(max(0.0, start - time.time()))
        print(migrations.migrate_sqlite(connection, 10.0))
    else:
        import asyncpg
        from reelay.store.postgres import SCHEMA_LOCK
        connection = await asyncpg.connect(url)
        time.sleep(max(0.0, start - time.time()))
        print(await migrations.migrate_postgres(connection, SCHEMA_LOCK))
        await connection.close()

asyncio.run(main())
"""


async def test_two_processes_starting_together_migrate_once(database):
    await database.baseline()  # a store of the first release
    start = str(time.time() + 2.0)  # both are past their imports by then
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MIGRATE_IN_A_PROCESS, database.url, start, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    applied = sorted(ast.literal_eval(output) for output in outputs)  # the lists each printed
    assert applied == [[], VERSIONS]  # one applied them all; the other waited, then found nothing to do
    assert await database.versions() == VERSIONS


# ------------------------------------------------------------ one place


def test_no_schema_is_made_outside_the_migrations():
    """Every table, index, trigger and function comes from ``store/migrations/``; the stores keep
    only the first release's schema (version 1): the tasks table and its first indexes."""
    core = Path(reelay.__file__).parent
    made = re.compile(
        r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER|FUNCTION|VIEW)\s+"
        r"(?:IF\s+NOT\s+EXISTS\s+)?(?!IF\b)(\w+)"
    )
    version_1 = {"tasks", "tasks_owner_created", "tasks_due", "tasks_leased"}
    baseline = {core / "store" / "sqlite.py", core / "store" / "postgres.py"}
    found = []
    for path in sorted(core.rglob("*.py")):
        if (core / "store" / "migrations") in path.parents:
            continue
        for match in made.finditer(path.read_text()):
            if path in baseline and match.group(1) in version_1:
                continue
            found.append(f"{path.relative_to(core)}: {match.group(0)}")
    assert found == []
    assert latest() == VERSIONS[-1]
