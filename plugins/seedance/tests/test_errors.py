"""Every documented Ark error code sorted into a FailureKind, and the answers that carry them."""

from __future__ import annotations

import pytest

from reelay import FailureKind
from reelay_seedance.wire import failure_kind, upstream_error

ERROR_TABLE = [
    (400, "MissingParameter", FailureKind.CALLER),
    (400, "InvalidParameter", FailureKind.CALLER),
    (400, "InvalidParameter.TaskTypeConstraint", FailureKind.CALLER),
    (409, "InvalidAction.RunningTaskDeletion", FailureKind.CALLER),
    (400, "InputTextSensitiveContentDetected", FailureKind.CONTENT_POLICY),
    (400, "InputImageSensitiveContentDetected", FailureKind.CONTENT_POLICY),
    (400, "InputImageSensitiveContentDetected.PrivacyInformation", FailureKind.CONTENT_POLICY),
    (400, "InputTextSensitiveContentDetected.PolicyViolation", FailureKind.CONTENT_POLICY),
    (400, "InputVideoSensitiveContentDetected", FailureKind.CONTENT_POLICY),
    (400, "InputAudioSensitiveContentDetected", FailureKind.CONTENT_POLICY),
    (401, "AuthenticationError", FailureKind.CHANNEL),
    (403, "AccountOverdueError", FailureKind.CHANNEL),
    (403, "AccessDenied", FailureKind.CHANNEL),
    (403, "OperationDenied.ServiceNotOpen", FailureKind.CHANNEL),
    (404, "ModelNotOpen", FailureKind.CHANNEL),
    (404, "InvalidEndpointOrModel.NotFound", FailureKind.CHANNEL),
    (429, "QuotaExceeded", FailureKind.CHANNEL),
    (429, "SetLimitExceeded", FailureKind.CHANNEL),
    (429, "RateLimitExceeded.EndpointRPMExceeded", FailureKind.RATE_LIMITED),
    (429, "ModelAccountRpmRateLimitExceeded", FailureKind.RATE_LIMITED),
    (429, "RequestBurstTooFast", FailureKind.RATE_LIMITED),
    (429, "ServerOverloaded", FailureKind.TRANSIENT),
    (500, "InternalServiceError", FailureKind.TRANSIENT),
    (404, "ResourceNotFound", FailureKind.NOT_FOUND),
    (503, "", FailureKind.TRANSIENT),
    (418, "SomethingNew", FailureKind.CALLER),
]


@pytest.mark.parametrize(("http_status", "code", "kind"), ERROR_TABLE)
def test_error_table(http_status, code, kind):
    assert failure_kind(http_status, code) is kind


def test_caller_error_keeps_the_vendors_reason_and_param(load_fixture):
    error = upstream_error(400, load_fixture("seedance-error-invalid-parameter"))
    assert error.kind is FailureKind.CALLER and error.param == "resolution"
    assert "allowed values: 480p, 720p" in error.message and error.http_status == 400


def test_authentication_is_the_channels_fault(load_fixture):
    error = upstream_error(401, load_fixture("seedance-error-authentication"))
    assert error.kind is FailureKind.CHANNEL and error.retryable


def test_content_policy_gets_the_stable_code():
    body = {"error": {"code": "InputTextSensitiveContentDetected", "message": "sensitive"}}
    assert upstream_error(400, body).code == "content_policy_violation"


def test_a_body_that_is_not_json_falls_back_to_the_status():
    error = upstream_error(502, None, retry_after=3.0)
    assert error.kind is FailureKind.TRANSIENT and error.retry_after == 3.0
