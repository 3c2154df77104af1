"""Every DashScope task_status mapped, and every error code sorted."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from reelay import FailureKind, TaskStatus, UpstreamError
from reelay_wan.wire import failure_kind, map_status, raise_for

STATUS_TABLE = [
    ("pending", TaskStatus.QUEUED, None),
    ("running", TaskStatus.IN_PROGRESS, None),
    ("succeeded", TaskStatus.COMPLETED, None),
    ("succeeded-no-video", TaskStatus.FAILED, "generation_failed"),
    ("failed", TaskStatus.FAILED, "generation_failed"),
    ("failed-inspection", TaskStatus.FAILED, "content_policy_violation"),
    ("canceled", TaskStatus.CANCELLED, None),
]

ERROR_TABLE = [
    (400, "InvalidParameter", FailureKind.CALLER),
    (400, "UnsupportedOperation", FailureKind.CALLER),
    (400, "DataInspectionFailed", FailureKind.CONTENT_POLICY),
    (400, "IPInfringementSuspect", FailureKind.CONTENT_POLICY),
    (401, "InvalidApiKey", FailureKind.CHANNEL),
    (403, "AccessDenied", FailureKind.CHANNEL),
    (403, "AccessDenied.Unpurchased", FailureKind.CHANNEL),
    (400, "Arrearage", FailureKind.CHANNEL),
    (429, "Throttling", FailureKind.RATE_LIMITED),
    (429, "Throttling.RateQuota", FailureKind.RATE_LIMITED),
    (429, "Throttling.AllocationQuota", FailureKind.CHANNEL),
    (500, "InternalError", FailureKind.TRANSIENT),
    (503, "ServiceUnavailable", FailureKind.TRANSIENT),
    (504, "", FailureKind.TRANSIENT),
    (404, "", FailureKind.NOT_FOUND),
]


@pytest.mark.parametrize(("state", "status", "code"), STATUS_TABLE)
def test_status_table(answer, state, status, code):
    update = map_status(answer(state))
    assert update.status is status and (update.error.code if update.error else None) == code


def test_succeeded_reads_the_url_and_usage(answer):
    result = map_status(answer("succeeded")).result
    assert result.url.startswith("https://dashscope-result-sh.oss-cn-shanghai.aliyuncs.com/")
    assert result.duration == 10.0 and result.extra["actual_prompt"] == "a small cat runs"


def test_a_failed_task_keeps_dashscopes_code(answer):
    assert map_status(answer("failed")).error.message == "InvalidParameter: The size is not match xxxxxx"


def test_unknown_task_is_not_found(answer):
    with pytest.raises(UpstreamError) as caught:
        map_status(answer("unknown"))
    assert caught.value.kind is FailureKind.NOT_FOUND


def test_a_new_status_is_transient_and_logged(answer):
    payload = answer("running")
    payload["output"]["task_status"] = "SUSPENDED"
    with capture_logs() as logs, pytest.raises(UpstreamError) as caught:
        map_status(payload)
    assert caught.value.kind is FailureKind.TRANSIENT and logs[0]["status"] == "SUSPENDED"


def test_hooks_answer_for_wan_channels(pm, channel, answer):
    assert pm.hook.reelay_map_status(payload=answer("pending"), task=None, channel=channel).status is TaskStatus.QUEUED


@pytest.mark.parametrize(("http_status", "code", "kind"), ERROR_TABLE)
def test_error_table(http_status, code, kind):
    assert failure_kind(http_status, code) is kind


def test_errors_keep_the_reason(answer):
    with pytest.raises(UpstreamError) as caught:
        raise_for(400, answer("error-invalid-parameter"))
    assert (
        caught.value.kind is FailureKind.CALLER
        and caught.value.message == "Wan error InvalidParameter: Model not exist."
    )
    with pytest.raises(UpstreamError) as caught:
        raise_for(401, answer("error-invalid-api-key"))
    assert caught.value.kind is FailureKind.CHANNEL
