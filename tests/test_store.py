"""Every store behaves alike: SQLite and PostgreSQL run the same tests, each
on a database of its own (PostgreSQL's skip when no server answers)."""

import asyncio
import secrets
import sys
from urllib.parse import urlsplit

import attrs
import pytest
import structlog
from acme_gateway import acme_gateway

from reelay.config import StoreConfig
from reelay.emulation import sample_clip
from reelay.models import (
    Adjustment,
    GenerationRequest,
    ImageInput,
    Task,
    TaskError,
    TaskStatus,
    VendorRef,
    VideoResult,
)
from reelay.store import StoreUnavailable, open_store
from reelay.testing import running_gateway

RUNNING, DONE = TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED


def a_task(task_id: str, **changes) -> Task:
    return Task(id=task_id, owner="o", model="m", vendor="v", channel="c", **changes)


def ids(tasks: list[Task]) -> list[str]:
    return [task.id for task in tasks]


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


async def test_a_task_round_trips_with_its_json_columns_and_request(store):
    request = GenerationRequest(
        model="m",
        prompt="a fox",
        duration=5,
        first_frame=ImageInput(url="https://images.example/fox.png"),
        extra={"seed": 7},
        adjustments=(Adjustment("duration", 4, 5, "snapped to an offered value"),),
        public_id="t1",
    )
    task = a_task(
        "t1",
        status=RUNNING,
        progress=30,
        created_at=1.5,
        updated_at=2.5,
        seconds=5,
        size="1280x720",
        prompt="a fox",
        vendor_ref=VendorRef("vendor-1", {"family": "v2"}),
        adjustments=request.adjustments,
        request=request,
        next_poll_at=9.25,
        poll_failures=2,
        remixed_from="t0",
    )
    await store.insert(task)
    assert await store.get("t1") == attrs.evolve(task, request=None), "the request only when asked for"
    assert await store.get("t1", with_request=True) == task
    await store.save(attrs.evolve(task, progress=40, request=None))
    assert (await store.get("t1", with_request=True)).request == request, "kept unless with_request"
    resubmitted = attrs.evolve(request, prompt="a red fox")
    await store.save(attrs.evolve(task, request=resubmitted), with_request=True)
    assert (await store.get("t1", with_request=True)).request == resubmitted
    result = VideoResult(url="https://cdn.example/v.mp4", duration=5.0, extra={"frames": [1, 2]})
    done = attrs.evolve(task, status=DONE, progress=100, completed_at=3.0, result=result)
    assert await store.save(done)
    assert await store.get("t1", with_request=True) == attrs.evolve(done, request=None), "a finished task's is dropped"
    failed = attrs.evolve(done, status=TaskStatus.FAILED, result=None, error=TaskError("upstream_failed", "no"))
    assert not await store.save(failed), "an ended task keeps its end"
    await store.insert(attrs.evolve(task, id="t2"))
    assert await store.save(attrs.evolve(failed, id="t2"))
    assert await store.get("t2") == attrs.evolve(failed, id="t2", request=None)
    await store.delete("t1")
    assert await store.get("t1") is None
    assert not await store.save(done), "nothing to write"


async def test_a_duplicate_insert_fails_and_keeps_the_first(store):
    """A bug, not an outage: the caller sees a 500, as with SQLite's IntegrityError, never a 503."""
    await store.insert(a_task("t1", prompt="first"))
    with pytest.raises(Exception, match=r"(?i)unique") as raised:
        await store.insert(a_task("t1", prompt="second"))
    assert not isinstance(raised.value, StoreUnavailable)
    assert (await store.get("t1")).prompt == "first"


async def test_list_pages_by_creation_time_both_ways(store):
    for n, created in enumerate([1.0, 2.0, 2.0, 3.0, 4.0]):
        await store.insert(a_task(f"t{n}", created_at=created, request=GenerationRequest(model="m")))
    await store.insert(attrs.evolve(a_task("x", created_at=2.5), owner="other"))
    assert ids(await store.list("o", limit=10)) == ["t4", "t3", "t2", "t1", "t0"], "newest first, ties by id"
    assert ids(await store.list("o", limit=2)) == ["t4", "t3"]
    assert ids(await store.list("o", limit=2, after="t3")) == ["t2", "t1"]
    assert ids(await store.list("o", limit=2, after="t1")) == ["t0"]
    assert ids(await store.list("o", limit=3, descending=False)) == ["t0", "t1", "t2"]
    assert ids(await store.list("o", limit=3, after="t2", descending=False)) == ["t3", "t4"]
    assert await store.list("o", limit=10, after="x") == [], "another owner's task is no anchor"
    assert await store.list("o", limit=10, after="nope") == []
    assert all(task.request is None for task in await store.list("o", limit=10))


async def test_claim_due_takes_the_earliest_due_active_tasks_and_skips_leased_ones(store):
    for n in range(5):  # d4 is due first
        status = RUNNING if n % 2 else TaskStatus.QUEUED
        await store.insert(a_task(f"d{n}", status=status, next_poll_at=10.0 - n, request=GenerationRequest(model="m")))
    await store.insert(a_task("later", next_poll_at=100.0))
    await store.insert(a_task("done", status=DONE, next_poll_at=0.0))
    claimed = await store.claim_due(20.0, "a", 30.0, 3)
    assert sorted(ids(claimed)) == ["d2", "d3", "d4"], "the earliest due, up to the limit"
    assert all(task.request is None for task in claimed), "without the stored request"
    assert sorted(ids(await store.claim_due(20.0, "b", 30.0, 10))) == ["d0", "d1"], "leased tasks are skipped"
    assert await store.claim_due(49.0, "c", 30.0, 10) == []
    assert len(await store.claim_due(50.5, "c", 30.0, 10)) == 5, "ended leases free their tasks"


async def test_a_save_under_a_lost_lease_is_not_written(store):
    await store.insert(a_task("t1", status=RUNNING, next_poll_at=1.0))
    [claimed] = await store.claim_due(10.0, "a", 5.0, 10)
    [taken] = await store.claim_due(20.0, "b", 5.0, 10)  # a's lease ended and b took the task
    assert not await store.save(attrs.evolve(claimed, progress=50, next_poll_at=30.0), lease="a")
    assert (await store.get("t1")).progress == 0
    assert await store.save(attrs.evolve(taken, progress=60, next_poll_at=30.0), lease="b")
    assert (await store.get("t1")).progress == 60
    assert await store.next_due() == 30.0, "the save released the lease"
    assert not await store.save(attrs.evolve(taken, progress=70), lease="b"), "a lease serves one save"
    assert await store.save(attrs.evolve(taken, progress=70)), "a save naming no lease always writes"


async def test_release_leases_frees_only_that_pollers_tasks(store):
    await store.insert(a_task("t1", next_poll_at=1.0))
    await store.insert(a_task("t2", next_poll_at=2.0))
    assert ids(await store.claim_due(10.0, "a", 60.0, 1)) == ["t1"]
    assert ids(await store.claim_due(10.0, "b", 60.0, 1)) == ["t2"]
    await store.release_leases("a")
    assert ids(await store.claim_due(11.0, "c", 60.0, 10)) == ["t1"]


async def test_next_due_is_the_first_unleased_task_or_the_first_lease_to_end(store):
    assert await store.next_due() is None
    await store.insert(a_task("done", status=DONE, next_poll_at=1.0))
    assert await store.next_due() is None, "finished tasks are never due"
    await store.insert(a_task("t1", status=RUNNING, next_poll_at=40.0))
    await store.insert(a_task("t2", next_poll_at=50.0))
    assert await store.next_due() == 40.0
    await store.claim_due(45.0, "a", 100.0, 1)  # t1, until 145
    assert await store.next_due() == 50.0, "the first unleased task"
    await store.claim_due(55.0, "b", 10.0, 1)  # t2, until 65
    assert await store.next_due() == 65.0, "the first lease to end"


async def test_completed_since_lists_results_without_a_kept_file_oldest_first(store):
    url = VideoResult(url="https://cdn.example/v.mp4")
    await store.insert(a_task("old", status=DONE, completed_at=5.0, result=url))
    await store.insert(a_task("later", status=DONE, completed_at=20.0, result=url))
    await store.insert(a_task("kept", status=DONE, completed_at=15.0, result=VideoResult(url=url.url, path="/r/kept")))
    await store.insert(a_task("bare", status=DONE, completed_at=12.0))
    await store.insert(a_task("failed", status=TaskStatus.FAILED, completed_at=30.0))
    await store.insert(a_task("running", status=RUNNING))
    assert ids(await store.completed_since(10.0, limit=10)) == ["bare", "later"]
    assert ids(await store.completed_since(10.0, limit=1)) == ["bare"]


async def test_two_processes_claiming_at_once_never_get_the_same_task(store, store_url):
    other = open_store(store_url)  # its own connections, as another gateway process
    await other.open()
    try:
        for n in range(40):
            await store.insert(a_task(f"t{n:02}", status=RUNNING, next_poll_at=float(n % 7)))
        claims = await asyncio.gather(
            *(s.claim_due(100.0, f"p{n}", 30.0, 12) for n, s in enumerate([store, other] * 2))
        )
        claimed = [task.id for tasks in claims for task in tasks]
        assert len(claimed) == 40 and len(set(claimed)) == 40
    finally:
        await other.close()


async def test_processes_starting_together_create_the_schema_once(store_url):
    stores = [open_store(store_url) for _ in range(3)]
    await asyncio.gather(*(opening.open() for opening in stores))
    try:
        await stores[0].insert(a_task("t1"))
        assert (await stores[2].get("t1")).id == "t1"
    finally:
        await asyncio.gather(*(opened.close() for opened in stores))


# ------------------------------------------------------------ PostgreSQL only


async def test_an_unreachable_database_is_a_503_that_keeps_the_password_out():
    pytest.importorskip("asyncpg")
    store = open_store("postgresql://reelay:s3cret%21pw@127.0.0.1:1/tasks?pool_size=2&password=s3cret-too")
    with structlog.testing.capture_logs() as logs, pytest.raises(StoreUnavailable) as raised:
        await store.open()
    assert raised.value.status == 503 and raised.value.code == "store_unavailable"
    assert "postgresql://reelay@127.0.0.1:1/tasks" in raised.value.message
    for text in (str(raised.value), repr(store), repr(logs)):
        assert "s3cret" not in text
    await store.close()  # nothing was opened
    with pytest.raises(RuntimeError, match="not open"):
        await store.get("t1")


async def test_a_user_who_may_only_read_and_write_rows_opens_an_existing_store(postgres_url):
    """Platform teams often create the schema once and run the gateway as a less privileged user."""
    owner = open_store(postgres_url)
    await owner.open()  # creates the schema
    role, password = f"reelay_rw_{secrets.token_hex(4)}", secrets.token_hex(8)
    await owner.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        schema = await owner.execute("SELECT current_schema()")
        await owner.execute(f"GRANT USAGE ON SCHEMA {schema[1][0][0]} TO {role}")
        # Every table the migrations made (the ledger's sequence too); schema_version is only read.
        await owner.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema[1][0][0]} TO {role}")
        await owner.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema[1][0][0]} TO {role}")
        parts = urlsplit(postgres_url)
        limited = open_store(parts._replace(netloc=f"{role}:{password}@{parts.netloc.rpartition('@')[2]}").geturl())
        await limited.open()
        await limited.insert(a_task("t1"))
        assert (await limited.get("t1")).id == "t1"
        await limited.close()
    finally:
        await owner.execute(f"DROP OWNED BY {role}")
        await owner.execute(f"DROP ROLE {role}")
        await owner.close()


def test_postgres_urls_are_read_without_connecting(monkeypatch):
    pytest.importorskip("asyncpg")
    store = open_store("postgres://reelay:pw@db.internal:5432/tasks?pool_size=3&sslmode=disable")
    assert store.pool_size == 3 and "pw" not in repr(store)
    assert open_store("postgresql://db.internal/tasks").pool_size == 10
    with pytest.raises(ValueError, match="pool_size must be a whole number"):
        open_store("postgresql://reelay:pw@db.internal/tasks?pool_size=0")
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "reelay.store.postgres")
    with pytest.raises(ImportError, match=r"pip install 'reelay\[postgres\]'"):
        open_store("postgresql://db.internal/tasks")


async def test_a_gateway_on_postgresql_serves_a_task_submitted_to_another(acme_pm, acme_spec, postgres_url, tmp_path):
    """Two gateway processes on one database: either answers for a task, their pollers share the work."""
    store = StoreConfig(url=postgres_url, results_dir=str(tmp_path / "results"))
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.2, store=store) as first:
        status, task = await first.client.submit(model="acme-1", prompt="a fox in a shared store")
        assert status == 200, task
        async with running_gateway(first.dispatcher.config, pm=acme_pm) as second:
            final, _ = await second.client.wait(task["id"])
            assert final["status"] == "completed"
            code, _, data = await second.client.content(task["id"])
            assert code == 200 and data == sample_clip(4, 1280, 720)  # acme-1 by default
            assert (await first.client.get(task["id"]))["status"] == "completed"


async def test_the_point_reads_of_one_turn_share_one_postgresql_statement(postgres_url, monkeypatch):
    store = open_store(postgres_url)
    await store.open()
    try:
        await asyncio.gather(*(store.insert(a_task(f"t{n}")) for n in range(4)))
        statements = []
        fetch = store._fetch

        async def counting(sql, *args):
            statements.append(sql)
            return await fetch(sql, *args)

        monkeypatch.setattr(store, "_fetch", counting)
        read = await asyncio.gather(*(store.get(task_id) for task_id in ["t0", "t2", "t2", "missing", "t3"]))
        assert [task.id if task else None for task in read] == ["t0", "t2", "t2", None, "t3"]
        assert len(statements) == 1, statements
        pending = asyncio.ensure_future(store.get("t1"))
        await asyncio.sleep(0)  # asked for; the store closes before the next turn answers it
    finally:
        await store.close()
    assert (await pending).id == "t1", "reads asked for before close() are answered"
