"""Every Hailuo query status and base_resp code, mapped."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from reelay import FailureKind, Task, TaskStatus, UpstreamError, VendorRef
from reelay.testing import check_status_table
from reelay_hailuo import wire

STATUS_TABLE = [
    ("preparing", TaskStatus.QUEUED, None),
    ("queueing", TaskStatus.QUEUED, None),
    ("processing", TaskStatus.IN_PROGRESS, None),
    ("success", TaskStatus.COMPLETED, None),
    ("success-no-file", TaskStatus.FAILED, "generation_failed"),
    ("fail", TaskStatus.FAILED, "generation_failed"),
    ("fail-1027", TaskStatus.FAILED, "content_policy_violation"),
    ("moderated-1026", TaskStatus.FAILED, "content_policy_violation"),
]

TASK = Task(
    id="video_h", owner="o", model="MiniMax-Hailuo-02", vendor="hailuo", channel="mm", vendor_ref=VendorRef("1")
)


def mapped(pm, channel, payload):
    return pm.hook.reelay_map_status(payload=payload, task=TASK, channel=channel)


@pytest.mark.parametrize(("state", "status", "code"), STATUS_TABLE)
def test_every_status(pm, channel, state, status, code, recorded):
    update = mapped(pm, channel, recorded(state))
    assert update.status is status
    assert (update.error.code if update.error else None) == code


def test_success_keeps_the_file_id_to_resolve_later(pm, channel, recorded):
    result = mapped(pm, channel, recorded("success")).result
    assert result.url is None
    assert result.extra == {
        "file_id": "205258526306433",
        "hailuo_task_id": "106916112212032",
        "video_width": 1920,
        "video_height": 1080,
    }


def test_unknown_status_is_transient_with_a_warning(pm, channel, recorded):
    with capture_logs() as logs, pytest.raises(UpstreamError) as caught:
        mapped(pm, channel, recorded("processing") | {"status": "Rendering"})
    assert caught.value.kind is FailureKind.TRANSIENT and caught.value.code == "unknown_status"
    assert [(e["event"], e["vendor"], e["value"]) for e in logs] == [("unknown vendor status", "Hailuo", "'Rendering'")]


def test_the_status_table_holds_the_query_and_the_callback_statuses(recorded):
    def payload_for(value):
        return recorded("success") | {"status": value}

    check_status_table(wire.STATUSES, payload_for, wire.map_status)
    assert set(wire.STATUSES.statuses) >= {"Preparing", "Queueing", "Processing", "Success", "Fail"}
    assert set(wire.STATUSES.statuses) >= {"processing", "success", "failed"}  # callbacks (the create pages)


@pytest.mark.parametrize(
    ("query", "callback"), [("Processing", "processing"), ("Success", "success"), ("Fail", "failed")]
)
def test_a_callback_status_means_what_its_query_status_means(recorded, query, callback):
    body = recorded("success")
    assert wire.map_status(body | {"status": callback}) == wire.map_status(body | {"status": query})


def test_a_payload_that_is_not_an_object_is_transient(pm, channel):
    with pytest.raises(UpstreamError) as caught:
        mapped(pm, channel, ["Success"])
    assert caught.value.kind is FailureKind.TRANSIENT
