"""MiniMax base_resp codes sorted into FailureKind, whatever the HTTP status says."""

from __future__ import annotations

import pytest

from reelay import FailureKind, UpstreamError
from reelay_hailuo.wire import checked

ERROR_TABLE = [
    (2013, FailureKind.CALLER),
    (1042, FailureKind.CALLER),
    (1026, FailureKind.CONTENT_POLICY),
    (1027, FailureKind.CONTENT_POLICY),
    (1004, FailureKind.CHANNEL),
    (2049, FailureKind.CHANNEL),
    (1008, FailureKind.CHANNEL),
    (2056, FailureKind.CHANNEL),
    (2061, FailureKind.CHANNEL),
    (1002, FailureKind.RATE_LIMITED),
    (1039, FailureKind.RATE_LIMITED),
    (1041, FailureKind.RATE_LIMITED),
    (1000, FailureKind.TRANSIENT),
    (1001, FailureKind.TRANSIENT),
    (1013, FailureKind.TRANSIENT),
    (1024, FailureKind.TRANSIENT),
    (1033, FailureKind.TRANSIENT),
    (9999, FailureKind.TRANSIENT),
]


@pytest.mark.parametrize(("code", "kind"), ERROR_TABLE)
def test_error_table(code, kind):
    with pytest.raises(UpstreamError) as caught:
        checked(200, {"base_resp": {"status_code": code, "status_msg": "m"}})
    assert caught.value.kind is kind


def test_invalid_params_keep_minimax_reason(recorded):
    with pytest.raises(UpstreamError) as caught:
        checked(200, recorded("error-2013"))
    assert caught.value.kind is FailureKind.CALLER
    assert caught.value.message == "Hailuo error 2013: invalid params, duration 10 is not supported at 1080P"


def test_missing_key_and_balance_fail_over(recorded):
    for name in ("error-1004", "error-1008"):
        with pytest.raises(UpstreamError) as caught:
            checked(200, recorded(name))
        assert caught.value.kind is FailureKind.CHANNEL and caught.value.retryable


def test_a_query_for_an_unknown_task_is_not_found(recorded):
    with pytest.raises(UpstreamError) as caught:
        checked(200, recorded("error-2013"), lookup=True)
    assert caught.value.kind is FailureKind.NOT_FOUND


@pytest.mark.parametrize(
    ("status", "kind"), [(401, FailureKind.CHANNEL), (429, FailureKind.RATE_LIMITED), (502, FailureKind.TRANSIENT)]
)
def test_proxy_statuses_without_base_resp(status, kind):
    with pytest.raises(UpstreamError) as caught:
        checked(status, None)
    assert caught.value.kind is kind


def test_rate_limit_waits_ten_seconds_unless_told():
    with pytest.raises(UpstreamError) as caught:
        checked(200, {"base_resp": {"status_code": 1002, "status_msg": "rate limit"}})
    assert caught.value.retry_after == 10.0


def test_success_passes_the_body(recorded):
    assert checked(200, recorded("create"))["task_id"] == "106916112212032"
