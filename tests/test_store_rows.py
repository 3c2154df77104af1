"""The SQLite store keeps rows it read in memory, and never answers with a stale one.

Status checks read one task by id, over and over: the store answers them
from rows it read before, forgets a row as soon as a write to it is queued,
and forgets them all when another process writes to the file.
"""

import asyncio
import sqlite3

import attrs
import pytest

from reelay.models import Task, TaskStatus
from reelay.store import sqlite as store_module
from reelay.store.sqlite import SQLiteStore


class CountingReader:
    """Stands in for the store's read-only connection and counts its reads."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection
        self.reads = 0

    def execute(self, sql, params=()):
        self.reads += 1
        return self.connection.execute(sql, params)

    def close(self):
        self.connection.close()


def a_task(task_id: str, **changes) -> Task:
    return Task(id=task_id, owner="o", model="m", vendor="v", channel="c", **changes)


async def next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


@pytest.fixture
async def store(tmp_path):
    opened = SQLiteStore(str(tmp_path / "rows.db"))
    await opened.open()
    opened._reader = CountingReader(opened._reader)
    yield opened
    await opened.close()


async def test_a_second_read_of_a_task_comes_from_memory(store):
    await store.insert(a_task("t1"))
    first = await store.get("t1")
    await next_turn()
    second = await store.get("t1")
    assert store._reader.reads == 1
    assert second == first and second is not first, "each caller gets its own Task to change"


async def test_a_write_is_seen_by_the_next_read(store):
    task = a_task("t1")
    await store.insert(task)
    assert (await store.get("t1")).status is TaskStatus.QUEUED
    task.status, task.progress = TaskStatus.IN_PROGRESS, 40
    await store.save(task)
    read = await store.get("t1")
    assert (read.status, read.progress) == (TaskStatus.IN_PROGRESS, 40)
    await store.delete("t1")
    assert await store.get("t1") is None


async def test_a_read_while_a_write_is_in_flight_asks_sqlite_and_keeps_nothing(store):
    task = a_task("t1")
    await store.insert(task)
    await store.get("t1")
    store._writing.acquire()  # the write waits on the store's thread
    try:
        saving = asyncio.create_task(store.save(attrs.evolve(task, status=TaskStatus.FAILED)))
        await next_turn()
        assert (await store.get("t1")).status is TaskStatus.QUEUED  # not committed yet: SQLite says so
        assert "t1" not in store._rows
    finally:
        store._writing.release()
    await saving
    assert (await store.get("t1")).status is TaskStatus.FAILED


async def test_another_process_writing_to_the_file_is_seen_at_the_next_turn(store, tmp_path):
    await store.insert(a_task("t1"))
    assert (await store.get("t1")).progress == 0
    other = sqlite3.connect(str(tmp_path / "rows.db"), isolation_level=None)
    try:
        other.execute("UPDATE tasks SET status = 'completed', progress = 100 WHERE id = 't1'")
    finally:
        other.close()
    await next_turn()
    read = await store.get("t1")
    assert (read.status, read.progress) == (TaskStatus.COMPLETED, 100)


async def test_the_rows_kept_are_bounded(store, monkeypatch):
    monkeypatch.setattr(store_module, "ROW_CACHE_SIZE", 3)
    for n in range(5):
        await store.insert(a_task(f"t{n}"))
        await store.get(f"t{n}")
    assert list(store._rows) == ["t2", "t3", "t4"], "the oldest rows read are dropped first"


async def test_a_statement_the_store_does_not_know_forgets_every_row(store):
    await store.insert(a_task("t1"))
    await store.get("t1")
    await store.execute("UPDATE tasks SET progress = 7")
    assert (await store.get("t1")).progress == 7


async def test_reads_skip_memory_while_the_stores_thread_holds_the_writer(store):
    await store.insert(a_task("t1"))
    await store.get("t1")
    await next_turn()
    store._writing.acquire()  # another process's write cannot be ruled out this turn
    try:
        await store.get("t1")
    finally:
        store._writing.release()
    assert store._reader.reads == 2
