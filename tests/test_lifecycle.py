"""Tasks survive restarts and crashes; the poller retries, times out and leases."""

import asyncio
import time

import acme
import attrs
import pytest
from acme_gateway import acme_gateway

from reelay.config import PollerConfig
from reelay.emulation import sample_clip, serve_app
from reelay.engine import SUBMISSION_GRACE_SECONDS, Dispatcher
from reelay.models import UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import Registry
from reelay.store import open_store
from reelay.testing import channel_for, gateway_config, running_gateway


async def test_restart_with_tasks_in_flight_completes_every_task(acme_pm, acme_spec, tmp_path):
    settings = acme_spec.settings(generation_seconds=0.8)
    async with serve_app(acme.create_emulator(settings)) as emulator_url:
        config = gateway_config([channel_for(acme_spec, emulator_url)], tmp_path)
        async with running_gateway(config, pm=acme_pm) as first:
            ids = []
            for n in range(5):
                status, task = await first.client.submit(model="acme-1", prompt=f"fox {n}")
                assert status == 200
                ids.append(task["id"])
        # The first gateway is gone with every task unfinished.
        async with running_gateway(config, pm=acme_pm) as second:
            for task_id in ids:
                final, _ = await second.client.wait(task_id)
                assert final["status"] == "completed"
                code, _, data = await second.client.content(task_id)
                assert code == 200 and data == sample_clip(4, 1280, 720)  # acme-1: 4 s, 1280x720 by default


async def test_crash_between_recording_and_submitting_waits_for_the_grace_time(acme_pm, acme_spec, tmp_path):
    """A row written before the upstream call is left alone until the submission's grace time has passed
    (what becomes of it then is in test_recovery.py)."""
    async with serve_app(acme.create_emulator(acme_spec.settings())) as emulator_url:
        config = gateway_config([channel_for(acme_spec, emulator_url)], tmp_path)
        dispatcher = Dispatcher(config, pm=acme_pm)
        await dispatcher.start()
        model = dispatcher.registry.models["acme-1"]
        channel = dispatcher.channels[config.channels[0].name]
        request = normalize(UnifiedRequest(model="acme-1", prompt="interrupted"), model, public_id="video_crashed")
        task = await dispatcher.submitter.record(None, config.tokens[0], model, channel, request)
        assert task.next_poll_at >= time.time() + SUBMISSION_GRACE_SECONDS - 5
        await dispatcher.stop()


async def test_lease_of_a_dead_poller_expires(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="leased elsewhere")
        store = gw.dispatcher.store
        await store.execute(
            "UPDATE tasks SET lease_owner = 'dead-process', lease_until = ? WHERE id = ?",
            (time.time() + 0.5, task["id"]),
        )
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"


async def test_two_pollers_never_claim_the_same_task(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=5) as gw:
        for n in range(20):
            await gw.client.submit(model="acme-1", prompt=f"fox {n}")
    store = open_store(f"sqlite:///{tmp_path / 'reelay.db'}")
    await store.open()
    now = time.time() + 3600
    first, second = await asyncio.gather(store.claim_due(now, "a", 30, 15), store.claim_due(now, "b", 30, 15))
    assert len(first) + len(second) == 20
    assert not {t.id for t in first} & {t.id for t in second}
    await store.close()


async def test_transient_poll_failures_do_not_fail_the_task(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.3) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="flaky")
        emulator_url = gw.emulators["acme"]
        # Point the channel at a dead port for a while: polls fail, the task waits.
        channel = gw.dispatcher.channels["acme-main"]
        gw.dispatcher.channels["acme-main"] = attrs.evolve(channel, base_url="http://127.0.0.1:9")
        await asyncio.sleep(0.6)
        assert (await gw.client.get(task["id"]))["status"] in ("queued", "in_progress")
        stored = await gw.dispatcher.store.get(task["id"])
        assert stored.poll_failures > 0
        gw.dispatcher.channels["acme-main"] = attrs.evolve(channel, base_url=emulator_url)
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"


async def test_task_exceeding_the_timeout_fails_with_timeout(acme_pm, tmp_path):
    poller = PollerConfig(min_interval=0.05, max_interval=0.1, timeout_seconds=0.4)
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=30, poller=poller) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="forever")
        final, _ = await gw.client.wait(task["id"], timeout=10)
        assert final["status"] == "failed" and final["error"]["code"] == "timeout"


async def test_progress_is_estimated_and_never_decreases(acme_pm, tmp_path):
    registry_model = Registry.collect(acme_pm).models["acme-1"]
    assert registry_model.typical_seconds == 1.0
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=1.0) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="steady")
        final, seen = await gw.client.wait(task["id"])
        progress = [body["progress"] for body in seen]
        assert progress == sorted(progress)
        assert all(p < 100 for body, p in zip(seen, progress, strict=True) if body["status"] != "completed")
        assert final["progress"] == 100


async def test_inline_results_are_kept_in_result_storage(acme_pm, tmp_path):
    """A vendor that returns bytes (VideoResult.data) gets them stored once and served by the gateway."""
    from reelay import StatusUpdate, TaskStatus, VideoResult, hookimpl

    class InlineResults:
        @hookimpl(tryfirst=True)
        def reelay_map_status(self, payload, task, channel):
            if payload.get("state") == "ready":
                return StatusUpdate(TaskStatus.COMPLETED, result=VideoResult(data=b"\x00\x00\x00\x18ftypmp42 inline"))
            return None

    acme_pm.register(InlineResults())
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="inline")
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == TaskStatus.COMPLETED.value
        code, _headers, data = await gw.client.content(task["id"])
        assert code == 200 and data == b"\x00\x00\x00\x18ftypmp42 inline"
        code, _, data = await gw.client.content(task["id"], range_="bytes=4-7")
        assert code == 206 and data == b"ftyp"
        assert list((tmp_path / "results").iterdir())


async def test_next_poll_is_not_delayed_by_the_lease_of_the_previous_one(acme_pm, tmp_path):
    """While a task is leased its next poll time is unknown; the poller must wake when the poll ends,
    not sleep until max_interval (30 s here)."""
    poller = PollerConfig(min_interval=0.2, max_interval=30.0)
    async with acme_gateway(
        acme_pm, tmp_path, generation_seconds=0.5, poller=poller, channel_overrides={"typical_seconds": 0.5}
    ) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="prompt fox")
        final, _ = await gw.client.wait(task["id"], timeout=10)
        assert final["status"] == "completed"


async def test_store_statements_fail_alone_and_a_locked_store_is_a_503(tmp_path):
    import sqlite3

    from reelay.models import Task
    from reelay.store.sqlite import SQLiteStore, StoreUnavailable

    store = SQLiteStore(str(tmp_path / "s.db"))
    await store.open()
    task = Task(id="t1", owner="o", model="m", vendor="v", channel="c")
    results = await asyncio.gather(store.insert(task), store.insert(task), store.count(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], sqlite3.IntegrityError) and results[2] == 1
    blocker = sqlite3.connect(str(tmp_path / "s.db"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    store.busy_timeout = 0.05
    try:
        try:
            await store.insert(Task(id="t2", owner="o", model="m", vendor="v", channel="c"))
        except StoreUnavailable as error:
            assert error.status == 503 and error.body()["error"]["code"] == "store_unavailable"
        else:
            raise AssertionError("a locked store must refuse with StoreUnavailable")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert (await store.get("t1")).id == "t1"
    await store.close()


async def test_the_poller_stops_even_when_work_arrives_as_it_is_cancelled(acme_pm, tmp_path):
    dispatcher = Dispatcher(gateway_config([], tmp_path), pm=acme_pm)
    waiting = asyncio.create_task(dispatcher.wait_for_work(3600))
    await asyncio.sleep(0)
    dispatcher.wake()  # the event is set and the cancellation lands in the same loop iteration
    waiting.cancel()
    try:
        await asyncio.wait_for(waiting, 2)
    except asyncio.CancelledError:
        pass
    assert waiting.cancelled(), "a cancellation racing a wake-up must not be dropped (the poller would not stop)"


async def test_a_write_waits_for_another_process_without_blocking_the_loop(tmp_path):
    import sqlite3

    from reelay.models import Task
    from reelay.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "w.db"))
    await store.open()
    await store.insert(Task(id="idle", owner="o", model="m", vendor="v", channel="c"))  # inline: nothing else runs
    blocker = sqlite3.connect(str(tmp_path / "w.db"), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    write = asyncio.create_task(store.insert(Task(id="waits", owner="o", model="m", vendor="v", channel="c")))
    await asyncio.sleep(0.2)
    assert not write.done() and ticks >= 5, "the loop must keep running while the write waits for the lock"
    blocker.execute("ROLLBACK")
    blocker.close()
    await asyncio.wait_for(write, 5)
    ticker.cancel()
    assert (await store.get("waits")) is not None and await store.count() == 2
    await store.close()


async def test_rows_written_in_one_turn_share_a_transaction_on_the_loop(tmp_path, monkeypatch):
    import threading

    from reelay.models import Task
    from reelay.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "g.db"))
    await store.open()
    batches = []
    original = SQLiteStore._transaction

    def recording(self, batch, *, wait):
        batches.append((len(batch), threading.current_thread() is threading.main_thread()))
        return original(self, batch, wait=wait)

    monkeypatch.setattr(SQLiteStore, "_transaction", recording)
    rows = [Task(id=f"t{i}", owner="o", model="m", vendor="v", channel="c") for i in range(10)]
    await asyncio.gather(*(store.insert(row) for row in rows))
    assert batches == [(10, True)], "ten rows issued together: one transaction, on the loop's thread"

    batches.clear()
    store._writing.acquire()  # as if the store's thread were using the writer
    pending = asyncio.create_task(store.insert(Task(id="later", owner="o", model="m", vendor="v", channel="c")))
    await asyncio.sleep(0.05)
    assert not pending.done() and batches == [], "the loop's thread never waits for the writer"
    store._writing.release()
    await asyncio.wait_for(pending, 5)
    assert batches == [(1, False)], "the row went to the store's thread"
    assert await store.count() == 11
    await store.close()


async def test_checkpoints_run_off_the_write_path(tmp_path, monkeypatch):
    from reelay.models import Task
    from reelay.store import sqlite as store_module
    from reelay.store import sqlite_database

    ran = []
    original = store_module.SQLiteStore._checkpoint
    monkeypatch.setattr(sqlite_database, "CHECKPOINT_EVERY", 50)
    monkeypatch.setattr(store_module.SQLiteStore, "_checkpoint", lambda self: ran.append(1) or original(self))
    store = store_module.SQLiteStore(str(tmp_path / "c.db"))
    await store.open()
    for n in range(4):
        await asyncio.gather(
            *(store.insert(Task(id=f"{n}-{i}", owner="o", model="m", vendor="v", channel="c")) for i in range(60))
        )
    await store.close()
    assert ran, "no checkpoint ran"
    assert (tmp_path / "c.db").stat().st_size > 0


async def test_a_transact_that_raises_leaves_nothing_alone_or_beside_other_writes(tmp_path):
    from reelay.models import Task
    from reelay.store.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "t.db"))
    await store.open()

    def half_then_fail(name):
        def work(connection):
            connection.execute("INSERT INTO accounts (token) VALUES (?)", (name,))
            raise ValueError(f"{name} refused")

        return work

    with pytest.raises(ValueError, match="alone refused"):
        await store.transact(half_then_fail("alone"))  # alone in its transaction
    results = await asyncio.gather(
        store.transact(half_then_fail("beside")),
        store.insert(Task(id="kept", owner="o", model="m", vendor="v", channel="c")),
        return_exceptions=True,
    )
    assert isinstance(results[0], ValueError) and results[1] is None
    _, rows = await store.execute("SELECT token FROM accounts")
    assert rows == [] and await store.get("kept") is not None
    await store.close()
