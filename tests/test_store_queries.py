"""How the SQLite store queries: the point reads of one turn of the event
loop are answered by one statement and never miss a write whose caller has
heard it was made; the poller's queries cost the same however many tasks
have ended."""

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


async def test_the_point_reads_of_one_turn_are_answered_by_one_statement(store):
    await asyncio.gather(*(store.insert(a_task(f"t{n}")) for n in range(5)))
    statements = []
    store._reader.set_trace_callback(statements.append)
    tasks = await asyncio.gather(*(store.get(task_id) for task_id in ["t0", "t3", "t3", "missing", "t4"]))
    assert [task.id if task else None for task in tasks] == ["t0", "t3", "t3", None, "t4"]
    assert len(statements) == 1, statements
    statements.clear()
    assert (await store.get("t1")).id == "t1"
    assert len(statements) == 1, "a read alone is one statement too"


async def test_reads_pending_when_the_store_closes_are_answered(tmp_path):
    store = SQLiteStore(str(tmp_path / "closing.db"))
    await store.open()
    await store.insert(a_task("t1"))
    reading = asyncio.ensure_future(store.get("t1"))
    await asyncio.sleep(0)  # the read is asked for, not yet answered
    await store.close()
    assert (await reading).id == "t1"


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


async def test_the_pollers_queries_do_not_grow_with_the_tasks_that_ended(tmp_path):
    """Claims and the next due time walk indexes, not the table: a store of
    finished tasks costs them nothing (SQLite VM steps, counted)."""

    async def steps_for(finished: int) -> tuple[int, int]:
        store = SQLiteStore(str(tmp_path / f"steps-{finished}.db"))
        await store.open()
        ended = [a_task(f"done{n}", status=TaskStatus.COMPLETED) for n in range(finished)]
        active = [a_task(f"live{n}", status=TaskStatus.IN_PROGRESS, next_poll_at=float(n)) for n in range(20)]
        await asyncio.gather(*(store.insert(task) for task in ended + active))
        counted = [0]

        def count() -> int:
            counted[0] += 1
            return 0  # go on

        store._writer.set_progress_handler(count, 10)
        claimed = await store.claim_due(100.0, "me", 60.0, 5)
        claim_steps, counted[0] = counted[0], 0
        assert [task.id for task in claimed] == [f"live{n}" for n in range(5)], "earliest due first"
        assert await store.next_due() == 5.0, "the first unleased task, not a leased one"
        due_steps = counted[0]
        store._writer.set_progress_handler(None, 0)
        await store.close()
        return claim_steps, due_steps

    few, many = await steps_for(10), await steps_for(5_000)
    assert many[0] <= few[0] * 1.5 + 5, f"claim: {few[0]} steps with 10 ended tasks, {many[0]} with 5,000"
    assert many[1] <= few[1] * 1.5 + 5, f"next due: {few[1]} steps with 10 ended tasks, {many[1]} with 5,000"


async def test_an_ended_lease_makes_its_task_due(store):
    await store.insert(a_task("t1", status=TaskStatus.IN_PROGRESS, next_poll_at=10.0))
    assert [task.id for task in await store.claim_due(20.0, "dead", 30.0, 5)] == ["t1"]
    assert await store.next_due() == 50.0, "due again when the lease ends (20 + 30)"
    assert await store.claim_due(40.0, "alive", 30.0, 5) == []
    assert [task.id for task in await store.claim_due(51.0, "alive", 30.0, 5)] == ["t1"]
