"""What a caller sees when things go wrong: scrubbed vendor messages, honest progress, reported drops."""

from __future__ import annotations

import asyncio

from acme_gateway import ACME_KEY, acme_gateway
from structlog.testing import capture_logs

from reelay import FailureKind, StatusUpdate, TaskError, TaskStatus, UpstreamError, hookimpl
from reelay.emulation import Scenario

LEAKY = f"bad request for access_key={ACME_KEY} (request_id req_8f2a9c1d0e) at https://api.acme.example/v2/jobs"


class Leaky:
    """Acme errors that echo the channel's key, a request id and the vendor's URL."""

    def __init__(self, at):
        self.at = at

    @hookimpl(tryfirst=True)
    def reelay_submit(self, payload, request, channel, http):
        if self.at == "submit":
            return self._raise(FailureKind.CALLER)
        return None

    @hookimpl(tryfirst=True)
    def reelay_map_status(self, payload, task, channel):
        if self.at == "poll":
            return StatusUpdate(TaskStatus.FAILED, error=TaskError("generation_failed", LEAKY))
        if self.at == "gone":
            raise UpstreamError(FailureKind.NOT_FOUND, f"acme: no task 'job_{'7' * 16}' ({LEAKY})")
        return None

    async def _raise(self, kind):
        raise UpstreamError(kind, LEAKY)


def assert_clean(text):
    for leak in (ACME_KEY, "req_8f2a9c1d0e", "acme.example", "7" * 16):
        assert leak not in text, text


async def test_a_vendor_error_echoing_the_credential_at_submission_never_reaches_the_caller(acme_pm, tmp_path):
    acme_pm.register(Leaky("submit"))
    async with acme_gateway(acme_pm, tmp_path) as gw:
        with capture_logs() as logs:
            status, body = await gw.client.submit(model="acme-1", prompt="fox")
        assert status == 400 and "bad request" in body["error"]["message"]
        assert_clean(str(body))
        # Refused before the vendor accepted anything: no task is left behind the 400.
        assert await gw.dispatcher.store.list("tester", limit=5) == []
    assert_clean(str([entry for entry in logs if entry["log_level"] != "debug"]))


async def test_a_task_error_echoing_the_credential_at_poll_time_never_reaches_the_task(acme_pm, tmp_path):
    acme_pm.register(Leaky("poll"))
    async with acme_gateway(acme_pm, tmp_path) as gw:
        with capture_logs() as logs:
            _, task = await gw.client.submit(model="acme-1", prompt="fox")
            final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "failed" and "bad request" in final["error"]["message"]
        assert_clean(str(final))
        assert_clean(str((await gw.dispatcher.store.get(task["id"])).error))
    assert_clean(str([entry for entry in logs if entry["log_level"] != "debug"]))


async def test_a_task_whose_vendor_job_was_deleted_fails_without_the_upstream_id(acme_pm, tmp_path):
    acme_pm.register(Leaky("gone"))
    async with acme_gateway(acme_pm, tmp_path) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="fox")
        final, _ = await gw.client.wait(task["id"])
    assert final["error"]["code"] == "upstream_not_found"
    assert_clean(str(final))


async def test_a_failed_task_shows_the_vendors_last_progress_not_an_estimate(acme_pm, tmp_path):
    class NoProgress:
        @hookimpl(tryfirst=True)
        def reelay_map_status(self, payload, task, channel):
            if payload["state"] == "rendering":
                return StatusUpdate(TaskStatus.IN_PROGRESS)
            return None

    acme_pm.register(NoProgress())
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=1.5) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt=f"a doomed fox {Scenario.FAIL.marker}")
        final, seen = await gw.client.wait(task["id"])
    assert any(body["progress"] > 0 for body in seen if body["status"] == "in_progress")  # estimated while running
    assert final["status"] == "failed" and final["progress"] == 0


async def test_a_cancelled_task_keeps_the_vendors_progress_not_an_estimate(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=10) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="a fox")
        await asyncio.sleep(1.5)  # acme-1 typically takes 1 s: the estimate is past 90 by now
        assert (await gw.client.get(task["id"]))["progress"] >= 90
        status, cancelled = await gw.client.request("POST", f"/v1/videos/{task['id']}/cancel")
        assert status == 200 and cancelled["progress"] < 50  # acme's own figure (about 15)
        assert (await gw.client.get(task["id"]))["progress"] == cancelled["progress"]


async def test_dropped_metadata_is_reported_in_adjustments_on_create_and_read(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path) as gw:
        status, task = await gw.client.submit(model="acme-1", prompt="a fox", metadata={"model": "acme-9"})
        assert status == 200, task
        read = await gw.client.get(task["id"])
    for body in (task, read):
        [dropped] = [a for a in body["adjustments"] if a["field"] == "metadata.model"]
        assert dropped["requested"] == "acme-9" and dropped["effective"] is None and dropped["reason"]
