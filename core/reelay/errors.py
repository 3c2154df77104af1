"""Errors the gateway reports, and the upstream failures plugins raise.

Every error a caller sees is one :class:`ReelayError`, rendered by the error
middleware as ``{"error": {"message", "type", "code", "param"}}``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any


class ReelayError(Exception):
    """An error with the HTTP status and the body fields the caller sees."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.param = param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}


class InvalidRequest(ReelayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class ValueNotAllowed(InvalidRequest):
    """A value outside the model's allowed set (strict normalization)."""

    code = "value_not_allowed"

    def __init__(self, param: str, value: Any, allowed: Iterable[Any], model: str):
        allowed_text = ", ".join(str(a) for a in allowed)
        super().__init__(f"{param} {value!r} is not offered by {model}; allowed values: {allowed_text}", param=param)
        self.allowed = list(allowed)


class AuthenticationError(ReelayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(ReelayError):
    status = 403
    type = "permission_error"
    code = "model_not_available"


class NotFound(ReelayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class Conflict(ReelayError):
    status = 409
    type = "invalid_request_error"
    code = "task_not_ready"


class RequestTimeout(ReelayError):
    """The request's body did not arrive in time (``server.body_timeout``)."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class PayloadTooLarge(ReelayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(ReelayError):
    """A 429 the caller should not retry at once: ``headers`` go on the response
    (``x-should-retry: false`` for an exhausted quota, ``Retry-After`` for too many tasks)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, code: str, headers: dict[str, str] | None = None):
        super().__init__(message, code=code)
        self.headers = dict(headers or {})


class UpstreamUnavailable(ReelayError):
    """Every eligible channel failed for reasons that are not the caller's."""

    status = 502
    type = "upstream_error"
    code = "upstream_failed"


class FailureKind(enum.StrEnum):
    """Whose fault an upstream failure is, which decides what the core does."""

    CALLER = "caller"  # the request is invalid for this vendor: 400, no retry
    CONTENT_POLICY = "content_policy"  # the vendor refused the content: 400, no retry
    CHANNEL = "channel"  # this channel's credentials or account: try the next channel
    TRANSIENT = "transient"  # timeouts, 5xx, connection errors: retry or fail over
    RATE_LIMITED = "rate_limited"  # 429-like: retry later or fail over
    NOT_FOUND = "not_found"  # the upstream object is gone or never existed


class UpstreamError(Exception):
    """Raised by plugins when a vendor call fails.

    The message may be shown to the caller for ``CALLER`` and
    ``CONTENT_POLICY`` failures, so it must carry the vendor's reason and
    never a credential.

    :param kind: whose fault it is (see :class:`FailureKind`).
    :param code: a stable code, for example ``content_policy_violation``.
    :param param: the request field at fault, when known.
    :param retry_after: seconds the vendor asked to wait, when it said.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code or _DEFAULT_CODES[kind]
        self.param = param
        self.http_status = http_status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in (FailureKind.TRANSIENT, FailureKind.RATE_LIMITED, FailureKind.CHANNEL)


_DEFAULT_CODES = {
    FailureKind.CALLER: "invalid_request",
    FailureKind.CONTENT_POLICY: "content_policy_violation",
    FailureKind.CHANNEL: "channel_unavailable",
    FailureKind.TRANSIENT: "upstream_unavailable",
    FailureKind.RATE_LIMITED: "rate_limited",
    FailureKind.NOT_FOUND: "upstream_not_found",
}


def failure_for_http_status(status: int) -> FailureKind:
    """The usual reading of an upstream HTTP status, for plugins to start from."""
    if status in (401, 403):
        return FailureKind.CHANNEL
    if status == 404:
        return FailureKind.NOT_FOUND
    if status == 429:
        return FailureKind.RATE_LIMITED
    if 400 <= status < 500:
        return FailureKind.CALLER
    return FailureKind.TRANSIENT
