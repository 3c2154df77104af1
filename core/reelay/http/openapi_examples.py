"""Examples for the OpenAPI document, made by the code that writes the wire format.

A task example is :func:`~reelay.http.wire.task_to_json` of a sample
:class:`~reelay.models.Task`, an error example the ``body()`` of the error the
gateway raises, an amount :func:`~reelay.models.amount_text` of a Decimal: an
example cannot drift from what the gateway really sends.
:func:`add_examples` puts them on an operation, :func:`error_examples` on the
shared error answers.
"""

from __future__ import annotations

import copy
import functools
from decimal import Decimal
from typing import Any

from .. import __version__
from ..errors import (
    AuthenticationError,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ReelayError,
    UpstreamUnavailable,
    ValueNotAllowed,
)
from ..models import Adjustment, Cost, CostState, Task, TaskError, TaskStatus, VideoResult, amount_text
from .openapi_derived import CHARACTER_EXAMPLE, MODEL_EXAMPLE
from .wire import task_to_json

BASE_URL = "https://video.example.com"
_CREATED = 1767225600
_ID = "video_3kq9Xw0dT2bq1Z7m5YpHc4sN"
_SOURCE_ID = "video_8a06e19b408b4cf19b709d25"


def _task(**changes: Any) -> Task:
    fields: dict[str, Any] = {
        "id": _ID,
        "owner": "example-team",
        "model": "example-1",
        "vendor": "example",
        "channel": "example-main",
        "created_at": _CREATED,
        "seconds": 8,
        "size": "1280x720",
        "prompt": "a red fox running through snow",
    }
    return Task(**{**fields, **changes})


def sample_tasks() -> tuple[Task, list[Task]]:
    """A minimal task (its keys are always present) and tasks that fill every optional key."""
    minimal = Task(id=_ID, owner="example-team", model="example-1", vendor="example", channel="example-main")
    full = _task(
        status=TaskStatus.COMPLETED,
        progress=100,
        completed_at=_CREATED + 94,
        result=VideoResult(url="https://vendor.invalid/v.mp4", duration=8.0),
        adjustments=(Adjustment("duration", 7, 8, "nearest"),),
        cost=Cost(Decimal("0.40"), "USD", CostState.SETTLED),
    )
    failed = _task(
        status=TaskStatus.FAILED,
        completed_at=_CREATED + 30,
        error=TaskError("upstream_failed", "every eligible channel failed"),
        cost=Cost(Decimal("0.40"), "USD", CostState.REFUNDED),
    )
    return minimal, [full, failed]


def task_json(task: Task) -> dict[str, Any]:
    return task_to_json(task, f"{BASE_URL}/v1/videos/{task.id}/content")


def _tasks() -> dict[str, dict[str, Any]]:
    _, (completed, failed) = sample_tasks()
    return {
        "queued": task_json(_task(cost=Cost(Decimal("0.40"), "USD", CostState.HELD))),
        "completed": task_json(completed),
        "failed": task_json(failed),
        "cancelled": task_json(_task(status=TaskStatus.CANCELLED, completed_at=_CREATED + 12)),
        "remix": task_json(_task(id="video_Rm1xQ0dT2bq1Z7m5YpHc4sN", remixed_from=_SOURCE_ID, prompt="make it night")),
    }


def _list(data: list[dict[str, Any]], *, has_more: bool = False) -> dict[str, Any]:
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def _channel(**changes: Any) -> dict[str, Any]:
    return {
        "name": "example-main",
        "vendor": "example",
        "healthy": True,
        "state": "closed",
        "consecutive_failures": 0,
        "cooldown_seconds": None,
        "retry_in_seconds": None,
        "reason": None,
        "in_flight": 3,
        "priority": 0,
        "weight": 1,
        "groups": ["default"],
        "draining": False,
        **changes,
    }


_CREATE_BODY = {"model": "example-1", "prompt": "a red fox running through snow", "duration": 8, "size": "16:9"}
_OPENAI_BODY = {"model": "example-1", "prompt": "a red fox running through snow", "seconds": "8", "size": "1280x720"}
_SSE = (
    f'event: in_progress\nid: 153\ndata: {{"id": "{_ID}", "status": "in_progress", "progress": 52, ...}}\n\n'
    ": ping\n\n"
    f'event: completed\nid: 154\ndata: {{"id": "{_ID}", "status": "completed", "progress": 100, ...}}\n\n'
)
_METRICS = '# TYPE reelay_requests_total counter\nreelay_requests_total{route="create",status="200"} 42\n'


@functools.cache
def _requests() -> dict[str, dict[str, Any]]:
    """Route name -> media type -> example body."""
    form = {"model": "example-1", "prompt": "a red fox running through snow", "seconds": "8"}
    return {
        "create": {"application/json": _CREATE_BODY},
        "openai.create": {"application/json": _OPENAI_BODY, "multipart/form-data": form},
        "openai.remix": {"application/json": {"prompt": "make it night"}},
        "openai.extend": {"multipart/form-data": {"prompt": "the fox runs off", "seconds": "8", "video": "<mp4>"}},
        "openai.edit": {"multipart/form-data": {"prompt": "make the fox blue", "video": "<mp4>"}},
        "openai.create_character": {"multipart/form-data": {"name": "Mossy", "video": "<mp4>"}},
        "callback": {"application/json": {"id": "job-123", "status": "succeeded"}},
    }


@functools.cache
def _answers() -> dict[str, dict[str, Any]]:
    """Route name -> the example of its first 2xx answer (text for non-JSON media)."""
    tasks = _tasks()
    attempt = {
        "object": "webhook.attempt",
        "event_id": "evt_1",
        "attempt": 1,
        "attempted_at": _CREATED + 95,
        "url": "https://hooks.example.com/reelay",
        "status_code": 200,
        "error": None,
        "next_retry_at": None,
    }
    admin_task = {**tasks["completed"], "token": "example-team", "channel": "example-main", "vendor": "example"}
    hold = {
        "id": "entry_2",
        "object": "usage.entry",
        "kind": "settle",
        "amount": amount_text(Decimal("0.40")),
        "currency": "USD",
        "created_at": _CREATED + 94,
        "task_id": _ID,
        "model": "example-1",
        "seconds": 8.0,
        "note": None,
    }
    return {
        "create": tasks["queued"],
        "openai.create": tasks["queued"],
        "get_generation": tasks["completed"],
        "get_video": tasks["completed"],
        "cancel": tasks["cancelled"],
        "openai.remix": tasks["remix"],
        "openai.extend": tasks["remix"],
        "openai.edit": tasks["remix"],
        "openai.list": _list([tasks["completed"], tasks["failed"]], has_more=True),
        "openai.delete": {"id": _ID, "object": "video.deleted", "deleted": True},
        "events": _SSE,
        "deliveries": {
            "object": "list",
            "data": [attempt],
            "deliveries": [
                {"event_id": "evt_1", "type": "video.completed", "state": "delivered", "attempts": 1, "next_at": None}
            ],
        },
        "callback": {"received": True},
        "models": {"object": "list", "data": [MODEL_EXAMPLE]},
        "model": MODEL_EXAMPLE,
        "openai.create_character": CHARACTER_EXAMPLE,
        "openai.get_character": CHARACTER_EXAMPLE,
        "healthz": {"status": "ok", "version": __version__},
        "openapi": {"openapi": "3.1.0", "info": {"title": "Reelay", "version": __version__}, "paths": {}},
        "docs": "<!doctype html><html lang=en><head><title>Reelay API</title></head><body>...</body></html>",
        "metrics": _METRICS,
        "usage": {
            "object": "usage",
            "currency": "USD",
            "quota": amount_text(Decimal("25")),
            "balance": amount_text(Decimal("24.20")),
            "held": amount_text(Decimal("0.40")),
            "spent": amount_text(Decimal("0.40")),
            "since": None,
            "until": None,
            "by_model": [{"model": "example-1", "tasks": 1, "seconds": 8.0, "amount": amount_text(Decimal("0.40"))}],
        },
        "usage.entries": _list([hold, {**hold, "id": "entry_1", "kind": "hold", "created_at": _CREATED}]),
        "admin.channels": {"object": "list", "data": [_channel(), _channel(name="example-backup", in_flight=0)]},
        "admin.disable": _channel(healthy=False, state="disabled", reason="disabled by an operator"),
        "admin.enable": _channel(),
        "admin.tasks": _list([admin_task]),
        "admin.reload": {"object": "reload", "reloaded": True, "restart_required": []},
    }


#: Status -> (example name, the error the gateway raises): each error's ``body()`` is the example.
_ERRORS: dict[int, list[tuple[str, ReelayError]]] = {
    400: [
        ("invalid_value", InvalidRequest("duration must be a positive integer", param="duration")),
        ("value_not_allowed", ValueNotAllowed("size", "3x", ["1280x720", "720x1280"], "example-1")),
        ("not_supported", InvalidRequest("example-1 cannot extend videos", code="not_supported", param="model")),
    ],
    401: [("invalid_api_key", AuthenticationError("missing or unknown Bearer token"))],
    403: [("model_not_available", PermissionDenied("example-1 is not available to this token", param="model"))],
    404: [
        ("task_not_found", NotFound(f"no task {_ID!r}", code="task_not_found")),
        ("model_not_found", NotFound("no model 'example-9'", code="model_not_found", param="model")),
    ],
    409: [
        ("task_not_ready", Conflict("the task has not completed yet")),
        ("idempotency_key_reused", Conflict("Idempotency-Key reused with another body", code="idempotency_key_reused")),
    ],
    413: [("request_too_large", PayloadTooLarge("request body too large (limit: server.max_body_mb)"))],
    416: [
        (
            "range_not_satisfiable",
            InvalidRequest("requested range not satisfiable", code="range_not_satisfiable", status=416),
        )
    ],
    429: [
        ("rate_limit_exceeded", RateLimited("too many requests this minute (rpm 10)", code="rate_limit_exceeded")),
        ("insufficient_quota", RateLimited("the token's quota is spent", code="insufficient_quota")),
        ("too_many_tasks", RateLimited("too many unfinished tasks (max_in_flight 4)", code="too_many_tasks")),
        ("too_many_connections", RateLimited("the gateway is at server.max_connections", code="too_many_connections")),
    ],
    502: [("upstream_failed", UpstreamUnavailable("every eligible channel failed upstream"))],
    503: [
        (
            "no_channel_available",
            UpstreamUnavailable("no channel could take this request", status=503, code="no_channel_available"),
        )
    ],
}


def error_examples(status: int | None) -> dict[str, Any]:
    """OpenAPI ``examples`` of the error answer for ``status`` (None: any other error)."""
    if status is None:
        failed = ReelayError("internal error; the request id is req_5f3a9c1e2a")
        return {"internal_error": {"value": failed.body()}}
    return {name: {"summary": error.code, "value": error.body()} for name, error in _ERRORS.get(status, [])}


def add_examples(name: str, operation: dict[str, Any]) -> None:
    """Put the request example and the first 2xx answer's example on the operation of route ``name``."""
    body = operation.get("requestBody", {}).get("content", {})
    for media, example in _requests().get(name, {}).items():
        if media in body:
            body[media]["example"] = copy.deepcopy(example)
    answer = _answers().get(name)
    if answer is None:
        return
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            for media, content in response.get("content", {}).items():
                if media != "video/mp4":
                    content["example"] = copy.deepcopy(answer)
            return
