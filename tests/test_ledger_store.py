"""The ledger's store contract: SQLite and PostgreSQL run the same tests (PostgreSQL's skip without a server)."""

import asyncio
import sqlite3
from decimal import Decimal

import pytest

from reelay.models import Cost, CostState, Task, TaskStatus, VideoResult
from reelay.store import open_store
from reelay.store.ledger import Admission, QuotaExceeded, TooManyInFlight
from reelay.store.migrations import migrations

D = Decimal


def a_task(task_id: str, owner="team-a", amount="0.35", **changes) -> Task:
    cost = Cost(D(amount), "USD") if amount is not None else None
    return Task(id=task_id, owner=owner, model="m", vendor="v", channel="c", seconds=5, cost=cost, **changes)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tasks.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(store_url):
    opened = open_store(store_url)
    await opened.open()
    yield opened
    await opened.close()


async def kinds(store, token="team-a"):
    return [entry.kind for entry in reversed(await store.entries(token, limit=100))]


async def test_a_hold_is_written_with_the_task_and_settled_once(store):
    await store.credit("team-a", D("1.00"), "USD", 1.0)
    task = a_task("t1")
    await store.insert(task, admission=Admission(limited=True))
    assert (await store.account("team-a")).held == D("0.35")
    task.status = TaskStatus.COMPLETED
    task.result = VideoResult(duration=4.0)
    task.cost = Cost(D("0.28"), "USD", CostState.SETTLED)  # the vendor made 4 s, not 5
    assert await store.save(task)
    assert await store.save(task)  # a second save of the same end writes nothing
    task.status = TaskStatus.CANCELLED
    assert not await store.save(task)  # nor does a late cancel, which leaves the task completed
    assert (await store.get("t1")).status is TaskStatus.COMPLETED
    account = await store.account("team-a")
    assert (account.held, account.spent, account.balance) == (D(0), D("0.28"), D("0.72"))
    assert await kinds(store) == ["credit", "hold", "settle"]
    stored = await store.get("t1")
    assert stored.cost == Cost(D("0.28"), "USD", CostState.SETTLED)
    entries = await store.entries("team-a", limit=1)
    assert entries[0].seconds == 4.0 and entries[0].amount == D("0.28")


async def test_a_save_from_before_the_task_ended_keeps_its_end_and_its_entry(store):
    """A cancel (or a poller) that read the task while it ran, saving after it ended
    another way: the stored end, its cost and its one closing entry stand (found by bench/faults.py)."""
    await store.insert(a_task("t1"))
    stale = await store.get("t1")
    [polled] = await store.claim_due(now=1e12, lease="p1", lease_seconds=60, limit=1)
    polled.status = TaskStatus.COMPLETED
    polled.result = VideoResult(duration=5.0)
    assert await store.save(polled, lease="p1")
    stale.status = TaskStatus.CANCELLED  # the caller's cancel, decided before the completion was saved
    assert not await store.save(stale)
    running = await store.get("t1")
    running.status = TaskStatus.IN_PROGRESS  # a poller's stale view of it
    assert not await store.save(running)
    stored = await store.get("t1")
    assert stored.status is TaskStatus.COMPLETED and stored.cost.state is CostState.SETTLED
    assert await kinds(store) == ["hold", "settle"]


async def test_a_failed_task_refunds_its_hold(store):
    task = a_task("t1")
    await store.insert(task)
    task.status = TaskStatus.FAILED
    assert await store.save(task)
    assert task.cost.state is CostState.REFUNDED
    assert await kinds(store) == ["hold", "refund"]
    account = await store.account("team-a")
    assert (account.held, account.spent) == (D(0), D(0))


async def test_a_settle_never_charges_more_than_the_hold(store):
    task = a_task("t1")
    await store.insert(task)
    task.status = TaskStatus.COMPLETED
    task.cost = Cost(D("9.00"), "USD", CostState.SETTLED)
    await store.save(task)
    assert (await store.account("team-a")).spent == D("0.35")


async def test_a_hold_the_balance_cannot_cover_writes_nothing(store):
    await store.credit("team-a", D("0.30"), "USD", 1.0)
    with pytest.raises(QuotaExceeded) as refused:
        await store.insert(a_task("t1"), admission=Admission(limited=True))
    assert refused.value.balance == D("0.30") and refused.value.price == D("0.35")
    assert await store.get("t1") is None
    assert await kinds(store) == ["credit"]


async def test_max_in_flight_counts_unfinished_tasks(store):
    admission = Admission(max_in_flight=2)
    await store.insert(a_task("t1", amount=None), admission=admission)
    await store.insert(a_task("t2", amount=None), admission=admission)
    with pytest.raises(TooManyInFlight):
        await store.insert(a_task("t3", amount=None), admission=admission)
    done = a_task("t1", amount=None, status=TaskStatus.COMPLETED)
    await store.save(done)
    await store.insert(a_task("t3", amount=None), admission=admission)


async def test_concurrent_holds_never_overdraw(store):
    await store.credit("team-a", D("1.00"), "USD", 1.0)
    results = await asyncio.gather(
        *(store.insert(a_task(f"t{n}"), admission=Admission(limited=True)) for n in range(10)),
        return_exceptions=True,
    )
    assert sum(result is None for result in results) == 2  # 2 x 0.35 <= 1.00 < 3 x 0.35
    assert all(isinstance(result, QuotaExceeded) for result in results if result is not None)
    assert (await store.account("team-a")).balance == D("0.30")


async def test_concurrent_terminal_saves_close_once(store):
    tasks = [a_task(f"t{n}") for n in range(20)]
    for task in tasks:
        await store.insert(task)
    copies = []
    for task in tasks:
        for status in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED):
            copy = a_task(task.id, status=status)
            copies.append(copy)
    await asyncio.gather(*(store.save(copy) for copy in copies))
    entries = await store.entries("team-a", limit=1000)
    closing = [entry for entry in entries if entry.kind in ("settle", "refund")]
    assert sorted(entry.task_id for entry in closing) == sorted(task.id for task in tasks)
    assert (await store.account("team-a")).held == D(0)


async def test_the_quota_is_applied_once(store):
    assert (await store.apply_quota("team-a", D("25"), "USD", 1.0)).amount == D("25")
    assert await store.apply_quota("team-a", D("25"), "USD", 2.0) is None
    await store.credit("team-a", D("-5"), "USD", 3.0, note="correction")
    assert (await store.account("team-a")).balance == D("20")


async def test_entries_page_newest_first(store):
    for n in range(5):
        await store.credit("team-a", D(n), "USD", float(n))
    first = await store.entries("team-a", limit=2)
    second = await store.entries("team-a", limit=2, before=first[-1].seq)
    assert [entry.amount for entry in first + second] == [D(4), D(3), D(2), D(1)]


async def test_usage_sums_settled_tasks_per_model(store):
    for n in range(3):
        task = a_task(f"t{n}", updated_at=100.0 + n)
        await store.insert(task)
        task.status = TaskStatus.COMPLETED if n < 2 else TaskStatus.FAILED
        await store.save(task)
    [usage] = await store.usage("team-a", None, None)
    assert (usage.model, usage.tasks, usage.seconds, usage.amount) == ("m", 2, 10.0, D("0.70"))
    assert await store.usage("team-a", 101.5, None) == []


async def test_an_idempotency_key_is_claimed_once(store):
    assert (await store.claim_key("team-a", "k", "f1", "t1", 10.0, 0.0))[1] == "t1"
    assert await store.claim_key("team-a", "k", "f2", "t2", 11.0, 0.0) == ("f1", "t1", 10.0)
    assert (await store.claim_key("team-b", "k", "f2", "t3", 11.0, 0.0))[1] == "t3"  # keys are per token
    assert (await store.claim_key("team-a", "k", "f2", "t4", 100.0, 50.0))[1] == "t4"  # expired: replaced
    assert await store.replace_key("team-a", "k", "t4", "f5", "t5", 101.0)
    assert not await store.replace_key("team-a", "k", "t4", "f6", "t6", 101.0)
    await store.release_key("team-a", "k", "t5")
    assert (await store.claim_key("team-a", "k", "f7", "t7", 102.0, 0.0))[1] == "t7"


# ---------------------------------------------------------------- migrations

# The tasks table as the release before the ledger created it.
_OLD_SQLITE = """
CREATE TABLE tasks (id TEXT PRIMARY KEY, owner TEXT NOT NULL, model TEXT NOT NULL, vendor TEXT NOT NULL,
    channel TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    updated_at REAL NOT NULL, completed_at REAL, seconds INTEGER, size TEXT, prompt TEXT, vendor_ref TEXT,
    result TEXT, error TEXT, adjustments TEXT, request TEXT, next_poll_at REAL NOT NULL DEFAULT 0,
    poll_failures INTEGER NOT NULL DEFAULT 0, remixed_from TEXT, lease_owner TEXT, lease_until REAL NOT NULL DEFAULT 0);
INSERT INTO tasks (id, owner, model, vendor, channel, status, created_at, updated_at)
    VALUES ('old', 'team-a', 'm', 'v', 'c', 'in_progress', 1, 1);
"""


async def test_a_sqlite_store_from_the_previous_release_upgrades_in_place(tmp_path):
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript(_OLD_SQLITE)
    connection.close()
    stores = [open_store(f"sqlite:///{path}") for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))  # together: the migration runs once
    try:
        old = await stores[0].get("old")
        assert old.status is TaskStatus.IN_PROGRESS and old.cost is None
        await stores[1].insert(a_task("new"))
        assert (await stores[2].get("new")).cost.state is CostState.HELD
    finally:
        for store in stores:
            await store.close()
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert versions == [(migration.version,) for migration in migrations()]


async def test_a_postgres_store_from_the_previous_release_upgrades_in_place(postgres_url):
    import asyncpg

    from reelay.store.codec import BASE_COLUMNS
    from reelay.store.postgres import _SCHEMA

    connection = await asyncpg.connect(postgres_url)
    await connection.execute(_SCHEMA)  # the previous release's schema (the baseline)
    await connection.execute(
        "INSERT INTO tasks (id, owner, model, vendor, channel, status, created_at, updated_at)"
        " VALUES ('old', 'team-a', 'm', 'v', 'c', 'in_progress', 1, 1)"
    )
    columns = {
        row[0]
        for row in await connection.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'tasks' AND table_schema = current_schema()"
        )
    }
    assert columns == {*BASE_COLUMNS, "lease_owner", "lease_until"}
    stores = [open_store(postgres_url) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        assert (await stores[0].get("old")).cost is None
        await stores[1].insert(a_task("new"))
        assert (await stores[2].get("new")).cost.state is CostState.HELD
    finally:
        for store in stores:
            await store.close()
    rows = await connection.fetch("SELECT version FROM schema_version ORDER BY version")
    assert [tuple(row) for row in rows] == [(migration.version,) for migration in migrations()]
    await connection.close()
