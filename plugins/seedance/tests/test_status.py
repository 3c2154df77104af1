"""map_status over fixture files of every Seedance task status."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from reelay import Channel, FailureKind, Task, TaskStatus, UpstreamError, VendorRef

STATUS_TABLE = [
    ("seedance-queued", TaskStatus.QUEUED, None),
    ("seedance-running", TaskStatus.IN_PROGRESS, None),
    ("seedance-succeeded", TaskStatus.COMPLETED, None),
    ("seedance-succeeded-no-video", TaskStatus.FAILED, "generation_failed"),
    ("seedance-failed", TaskStatus.FAILED, "generation_failed"),
    ("seedance-failed-sensitive", TaskStatus.FAILED, "content_policy_violation"),
    ("seedance-cancelled", TaskStatus.CANCELLED, None),
    ("seedance-expired", TaskStatus.FAILED, "timeout"),
]


@pytest.fixture
def task() -> Task:
    ref = VendorRef("cgt-20250331175019-68d9t")
    return Task(
        id="video_t", owner="o", model="doubao-seedance-1-0-pro-250528", vendor="seedance", channel="c", vendor_ref=ref
    )


@pytest.fixture
def mapped(pm, task, channel, load_fixture):
    def run(payload):
        payload = load_fixture(payload) if isinstance(payload, str) else payload
        return pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)

    return run


@pytest.mark.parametrize(("fixture", "status", "code"), STATUS_TABLE)
def test_every_status(mapped, fixture, status, code):
    update = mapped(fixture)
    assert update.status is status
    assert (update.error.code if update.error else None) == code


def test_succeeded_carries_the_video_and_facts(mapped):
    result = mapped("seedance-succeeded").result
    assert result.url.startswith("https://ark-content-generation-cn-beijing.tos-cn-beijing.volces.com/")
    assert result.duration == 5
    assert result.extra == {
        "seedance_task_id": "cgt-20250331175019-68d9t",
        "resolution": "1080p",
        "ratio": "16:9",
        "seed": 10,
        "completion_tokens": 246840,
    }


def test_failure_message_names_the_vendor_code(mapped):
    assert mapped("seedance-failed-sensitive").error.message.startswith("OutputVideoSensitiveContentDetected: ")


def test_unknown_status_is_transient_and_logged(mapped, load_fixture):
    payload = load_fixture("seedance-running") | {"status": "thinking"}
    with capture_logs() as logs, pytest.raises(UpstreamError) as caught:
        mapped(payload)
    assert caught.value.kind is FailureKind.TRANSIENT
    assert logs[0]["log_level"] == "warning" and logs[0]["status"] == "thinking"


@pytest.mark.parametrize("payload", [None, [], {"status": "queued"}, 42])
def test_unreadable_payload_is_transient(mapped, payload):
    with pytest.raises(UpstreamError) as caught:
        mapped(payload)
    assert caught.value.kind is FailureKind.TRANSIENT


def test_other_vendors_are_not_answered(pm, task, load_fixture):
    other = Channel(name="o", vendor="kling", base_url="https://o.test")
    assert pm.hook.reelay_map_status(payload=load_fixture("seedance-queued"), task=task, channel=other) is None
