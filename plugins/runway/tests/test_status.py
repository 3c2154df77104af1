"""map_status over fixture files of every Runway status and failure code."""

from __future__ import annotations

import logging

import pytest

from reelay import Channel, FailureKind, Task, TaskStatus, UpstreamError, VendorRef

TASK_ID = "17f20503-6c24-4c16-946b-35dbbce2af2f"


@pytest.fixture
def mapped(pm, channel, load_fixture):
    task = Task(
        id="video_1", owner="o", model="gen4.5", vendor="runway", channel="runway-test", vendor_ref=VendorRef(TASK_ID)
    )

    def run(name_or_payload):
        payload = load_fixture(name_or_payload) if isinstance(name_or_payload, str) else name_or_payload
        return pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)

    return run


@pytest.mark.parametrize(
    ("fixture", "status"), [("runway-pending", TaskStatus.QUEUED), ("runway-throttled", TaskStatus.QUEUED)]
)
def test_waiting_states_are_queued(mapped, fixture, status):
    update = mapped(fixture)
    assert update.status is status and update.progress is None


def test_running_carries_progress(mapped):
    update = mapped("runway-running")
    assert update.status is TaskStatus.IN_PROGRESS and update.progress == 42


def test_running_without_progress_leaves_it_to_the_core(mapped, load_fixture):
    payload = load_fixture("runway-running")
    del payload["progress"]
    assert mapped(payload).progress is None


def test_succeeded_is_completed_with_the_first_output(mapped, load_fixture):
    update = mapped("runway-succeeded")
    assert update.status is TaskStatus.COMPLETED and update.progress == 100
    assert update.result.url == load_fixture("runway-succeeded")["output"][0]
    assert update.result.extra == {"runway_task_id": TASK_ID}


def test_succeeded_without_output_is_a_failure(mapped):
    update = mapped("runway-succeeded-no-output")
    assert update.status is TaskStatus.FAILED and update.error.code == "generation_failed"


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("runway-failed-safety-input", "content_policy_violation"),
        ("runway-failed-safety-output", "content_policy_violation"),
        ("runway-failed-internal", "generation_failed"),
        ("runway-failed-input-preprocessing", "invalid_input"),
        ("runway-failed-asset-invalid", "invalid_input"),
    ],
)
def test_failure_codes(mapped, load_fixture, fixture, code):
    update = mapped(fixture)
    assert update.status is TaskStatus.FAILED and update.error.code == code
    assert load_fixture(fixture)["failureCode"] in update.error.message


def test_a_safety_segment_anywhere_is_content_policy(mapped, load_fixture):
    payload = load_fixture("runway-failed-input-preprocessing") | {"failureCode": "INPUT_PREPROCESSING.SAFETY.TEXT"}
    assert mapped(payload).error.code == "content_policy_violation"


def test_failed_without_a_code(mapped, load_fixture):
    payload = load_fixture("runway-failed-internal")
    del payload["failureCode"], payload["failure"]
    assert mapped(payload).error.code == "generation_failed" and mapped(payload).error.message


def test_cancelled(mapped):
    assert mapped("runway-cancelled").status is TaskStatus.CANCELLED


def test_unknown_status_is_transient_and_logged(mapped, load_fixture, caplog):
    caplog.set_level(logging.WARNING)
    with pytest.raises(UpstreamError) as caught:
        mapped(load_fixture("runway-pending") | {"status": "ARCHIVED"})
    assert caught.value.kind is FailureKind.TRANSIENT and "ARCHIVED" in caught.value.message


@pytest.mark.parametrize("payload", [None, [], {"status": "RUNNING"}, {"id": 3, "status": 4}])
def test_unreadable_payload_is_transient(mapped, payload):
    with pytest.raises(UpstreamError) as caught:
        mapped(payload)
    assert caught.value.kind is FailureKind.TRANSIENT


def test_other_vendors_are_not_answered(pm, load_fixture):
    task = Task(id="t", owner="o", model="m", vendor="kling", channel="c")
    other = Channel(name="o", vendor="kling", base_url="https://o.test")
    assert pm.hook.reelay_map_status(payload=load_fixture("runway-pending"), task=task, channel=other) is None
