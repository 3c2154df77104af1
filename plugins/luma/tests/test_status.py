"""Every Luma state and failure reason, from fixture files."""

from __future__ import annotations

import pytest

from reelay import Channel, FailureKind, TaskStatus, UpstreamError


@pytest.fixture
def update_of(luma_pm, luma_channel, generation_task, load_fixture):
    def run(payload):
        payload = load_fixture(payload) if isinstance(payload, str) else payload
        return luma_pm.hook.reelay_map_status(payload=payload, task=generation_task, channel=luma_channel)

    return run


def test_queued(update_of):
    assert update_of("luma-queued").status is TaskStatus.QUEUED


def test_dreaming_is_in_progress_without_a_percentage(update_of):
    update = update_of("luma-dreaming")
    assert update.status is TaskStatus.IN_PROGRESS and update.progress is None


def test_completed_carries_the_video_not_the_progress_video(update_of, load_fixture):
    update = update_of("luma-completed")
    assets = load_fixture("luma-completed")["assets"]
    assert update.status is TaskStatus.COMPLETED and update.progress == 100
    assert update.result.url == assets["video"]
    assert update.result.extra["thumbnail_url"] == assets["image"]


def test_completed_without_video_is_a_failure(update_of):
    update = update_of("luma-completed-no-video")
    assert update.status is TaskStatus.FAILED and update.error.code == "generation_failed"


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("luma-failed", "generation_failed"),
        ("luma-failed-blacklisted", "content_policy_violation"),
        ("luma-failed-moderation", "content_policy_violation"),
        ("luma-failed-frame-moderation", "content_policy_violation"),
        ("luma-failed-input-frames", "invalid_input"),
    ],
)
def test_failure_reasons(update_of, load_fixture, fixture, code):
    update = update_of(fixture)
    assert update.status is TaskStatus.FAILED and update.error.code == code
    assert update.error.message == load_fixture(fixture)["failure_reason"]


def test_failed_without_reason(update_of, load_fixture):
    update = update_of(load_fixture("luma-failed") | {"failure_reason": None})
    assert update.error.code == "generation_failed" and update.error.message


def test_unknown_state_is_transient(update_of, load_fixture):
    with pytest.raises(UpstreamError) as caught:
        update_of(load_fixture("luma-queued") | {"state": "upscaling"})
    assert caught.value.kind is FailureKind.TRANSIENT and "upscaling" in caught.value.message


@pytest.mark.parametrize("payload", [None, ["queued"], {"state": "queued"}, {"id": "x", "assets": "nope"}])
def test_unreadable_generation_is_transient(update_of, payload):
    with pytest.raises(UpstreamError) as caught:
        update_of(payload)
    assert caught.value.kind is FailureKind.TRANSIENT


def test_other_vendors_are_not_answered(luma_pm, generation_task, load_fixture):
    other = Channel(name="r", vendor="runway", base_url="https://r.test")
    assert (
        luma_pm.hook.reelay_map_status(payload=load_fixture("luma-queued"), task=generation_task, channel=other) is None
    )
