"""reelay_map_status over fixture files of every Kling state."""

from __future__ import annotations

import pytest

from reelay import Channel, FailureKind, Task, TaskStatus, UpstreamError, VendorRef


@pytest.fixture
def task() -> Task:
    return Task(
        id="video_test123",
        owner="alice",
        model="kling-v1",
        vendor="kling",
        channel="kling-test",
        vendor_ref=VendorRef("831922345719271433", {"family": "text2video"}),
    )


@pytest.fixture
def mapped(pm, task, channel, load_fixture):
    def run(name_or_payload):
        payload = load_fixture(name_or_payload) if isinstance(name_or_payload, str) else name_or_payload
        return pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)

    return run


def test_submitted_is_queued(mapped):
    update = mapped("kling-submitted")
    assert update.status is TaskStatus.QUEUED
    assert update.progress is None


def test_create_answer_is_queued(mapped):
    assert mapped("kling-create").status is TaskStatus.QUEUED


def test_processing_is_in_progress(mapped):
    update = mapped("kling-processing")
    assert update.status is TaskStatus.IN_PROGRESS
    assert update.progress is None  # Kling gives none; the core estimates


def test_succeed_is_completed_with_video(mapped):
    update = mapped("kling-succeed")
    assert update.status is TaskStatus.COMPLETED
    assert update.error is None
    result = update.result
    assert result.url == "https://cdn.klingai.test/bs2/upload-kling-api/831922345719271433/video.mp4"
    assert result.duration == pytest.approx(5.1)
    assert result.mime_type == "video/mp4"
    assert result.extra == {
        "kling_task_id": "831922345719271433",
        "kling_video_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        "final_unit_deduction": "1",
    }


def test_failed_is_failed_with_kling_message(mapped):
    update = mapped("kling-failed")
    assert update.status is TaskStatus.FAILED
    assert update.error.code == "generation_failed"
    assert update.error.message == "Video generation failed, please try again later"


def test_risk_control_failure_is_content_policy(mapped):
    update = mapped("kling-failed-risk")
    assert update.status is TaskStatus.FAILED
    assert update.error.code == "content_policy_violation"
    assert "risk control" in update.error.message


@pytest.mark.parametrize(
    "message",
    ["The content you entered contains sensitive information", "content security policy triggered", "审核未通过"],
)
def test_other_content_policy_messages(mapped, load_fixture, message):
    payload = load_fixture("kling-failed")
    payload["data"]["task_status_msg"] = message
    assert mapped(payload).error.code == "content_policy_violation"


def test_failed_without_message(mapped, load_fixture):
    payload = load_fixture("kling-failed")
    del payload["data"]["task_status_msg"]
    update = mapped(payload)
    assert update.error.code == "generation_failed"
    assert update.error.message


def test_succeed_without_video_is_a_failure(mapped):
    update = mapped("kling-succeed-no-video")
    assert update.status is TaskStatus.FAILED
    assert update.error.code == "generation_failed"


def test_numeric_duration_is_tolerated(mapped, load_fixture):
    payload = load_fixture("kling-succeed")
    payload["data"]["task_result"]["videos"][0]["duration"] = 10
    assert mapped(payload).result.duration == 10.0


def test_bare_task_object_as_in_callbacks(mapped, load_fixture):
    assert mapped(load_fixture("kling-succeed")["data"]).status is TaskStatus.COMPLETED


def test_unknown_status_is_transient(mapped, load_fixture):
    payload = load_fixture("kling-processing")
    payload["data"]["task_status"] = "thinking"
    with pytest.raises(UpstreamError) as caught:
        mapped(payload)
    assert caught.value.kind is FailureKind.TRANSIENT


@pytest.mark.parametrize("payload", [None, [], {"code": 0, "data": {"task_status": "succeed"}}, 42])
def test_unreadable_payload_is_transient(mapped, payload):
    with pytest.raises(UpstreamError) as caught:
        mapped(payload)
    assert caught.value.kind is FailureKind.TRANSIENT


def test_other_vendors_are_not_answered(pm, task, load_fixture):
    other = Channel(name="o", vendor="veo", base_url="https://o.test")
    assert pm.hook.reelay_map_status(payload=load_fixture("kling-succeed"), task=task, channel=other) is None


def test_every_kling_status_maps_through_its_table(load_fixture):
    from reelay.testing import check_status_table
    from reelay_kling import wire

    def payload_for(value):
        envelope = load_fixture("kling-succeed")
        envelope["data"]["task_status"] = value
        return envelope

    check_status_table(wire.STATUSES, payload_for, wire.map_status)
