"""Point reads of one turn of the event loop share one SQLite read transaction,
and never miss a write whose caller has heard it was made."""

import asyncio
import sqlite3

import attrs
import pytest

from reelay.models import Task, TaskStatus
from reelay.store.sqlite import SQLiteStore


def a_task(task_id: str, **changes) -> Task:
    return Task(id=task_id, owner="o", model="m", vendor="v", channel="c", **changes)


@pytest.fixture
async def store(tmp_path):
    opened = SQLiteStore(str(tmp_path / "reads.db"))
    await opened.open()
    yield opened
    await opened.close()


async def test_reads_of_one_turn_share_a_transaction_that_ends_with_the_turn(store):
    await store.insert(a_task("t1"))
    await store.get("t1")
    assert store._reader.in_transaction, "the turn's reads share one read transaction"
    await asyncio.sleep(0)
    assert not store._reader.in_transaction, "it ends at the start of the next turn"


async def test_a_write_is_seen_by_every_read_after_its_caller_resumes(store):
    task = a_task("t1")
    await store.insert(task)
    assert (await store.get("t1")).status is TaskStatus.QUEUED
    await store.save(attrs.evolve(task, status=TaskStatus.IN_PROGRESS, progress=40))
    read = await store.get("t1")
    assert (read.status, read.progress) == (TaskStatus.IN_PROGRESS, 40)
    await store.delete("t1")
    assert await store.get("t1") is None


async def test_another_process_writing_is_seen_from_the_next_turn(store, tmp_path):
    await store.insert(a_task("t1"))
    assert (await store.get("t1")).progress == 0
    other = sqlite3.connect(str(tmp_path / "reads.db"), isolation_level=None)
    try:
        other.execute("UPDATE tasks SET status = 'completed', progress = 100 WHERE id = 't1'")
    finally:
        other.close()
    await asyncio.sleep(0)
    read = await store.get("t1")
    assert (read.status, read.progress) == (TaskStatus.COMPLETED, 100)


async def test_closing_the_store_mid_turn_ends_the_read_transaction(tmp_path):
    store = SQLiteStore(str(tmp_path / "closing.db"))
    await store.open()
    await store.insert(a_task("t1"))
    await store.get("t1")
    await store.close()  # in the same turn as the read
    await asyncio.sleep(0)  # the scheduled end finds the reader gone
    reopened = SQLiteStore(str(tmp_path / "closing.db"))
    await reopened.open()
    assert (await reopened.get("t1")).id == "t1"
    await reopened.close()
