"""Runway's wire format: camelCase bodies out, task objects in, failures sorted.

Everything that knows Runway's JSON lives here. Task objects are read
through a private cattrs converter into small attrs classes; Runway adds
fields over time (``estimatedCost``, ``cost``...), so unknown keys are
ignored on purpose. The core only ever sees :class:`reelay.StatusUpdate`,
:class:`reelay.VendorRef` and :class:`reelay.UpstreamError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import structlog
from attrs import frozen

from reelay import (
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    ValueNotAllowed,
    VideoResult,
    failure_for_http_status,
)
from reelay.upstream import BAD_RESPONSE, parse_answer, vendor_error

from .models import MAX_PROMPT_UTF16, Endpoint, RunwayModel, to_ratio

log = structlog.get_logger(__name__)

#: Pinned API version; Runway refuses requests without it.
API_VERSION = "2024-11-06"
MAX_URL = 2048
MAX_SEED = 4_294_967_295
PUBLIC_FIGURE_THRESHOLDS = ("auto", "low")

_ACCOUNT_MESSAGE = re.compile(r"credit|balance|billing|payment|insufficient|quota exceeded", re.IGNORECASE)
_MODERATION_MESSAGE = re.compile(r"\bSAFETY\.|moderation|content polic", re.IGNORECASE)


# ---------------------------------------------------------------- requests


@frozen
class RunwayPayload:
    """What ``build_payload`` hands to ``submit``: the endpoint and its body."""

    endpoint: Endpoint
    body: Mapping[str, Any] = attrs.field(repr=False)


def build_payload(request: GenerationRequest, model: RunwayModel, upstream_model: str) -> RunwayPayload:
    """The Runway request for ``request``; :class:`InvalidRequest` for what the model cannot take.

    The core has already refused what the model's data excludes (the
    endpoint, the ratios per kind of input, a missing prompt, the prompt's
    length in characters, image types, sizes and URLs), snapped the duration
    and ratio and placed the images as first and last frame; what is left
    here is Runway's own counting (UTF-16 units, URL length) and its fields.
    """
    endpoint = Endpoint.IMAGE_TO_VIDEO if request.is_image_to_video else Endpoint.TEXT_TO_VIDEO
    _check_prompt(request.prompt)

    body: dict[str, Any] = {"model": upstream_model}
    if request.prompt is not None:
        body["promptText"] = request.prompt
    if request.size is not None:
        body["ratio"] = to_ratio(request.size)
    if request.duration is not None:
        body["duration"] = request.duration
    if endpoint is Endpoint.IMAGE_TO_VIDEO:
        body["promptImage"] = _prompt_image(request)
    body.update(_checked_fields(request.extra, model, endpoint))
    return RunwayPayload(endpoint=endpoint, body=body)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _check_prompt(prompt: str | None) -> None:
    # The core counts characters (code points); Runway counts UTF-16 code
    # units, so a prompt with emoji or other astral characters can be within
    # the model's max_prompt_chars and still too long for Runway.
    if prompt is not None and utf16_length(prompt) > MAX_PROMPT_UTF16:
        raise InvalidRequest(
            f"prompt is longer than Runway's {MAX_PROMPT_UTF16} characters (UTF-16 code units)",
            param="prompt",
            code="prompt_too_long",
        )


def _prompt_image(request: GenerationRequest) -> str | list[dict[str, str]]:
    first = request.first_frame
    if first is None:
        raise InvalidRequest("Runway needs a first frame; a last frame alone is refused", param="image")
    if request.last_frame is None:
        return image_uri(first, "image")
    return [
        {"uri": image_uri(first, "image"), "position": "first"},
        {"uri": image_uri(request.last_frame, "images"), "position": "last"},
    ]


def image_uri(image: ImageInput, param: str) -> str:
    """An image as Runway takes it: an https URL on a domain name, a ``runway://`` URI or a data URI.

    The core has checked the type, size and URL form (the model's ``image_rules``);
    Runway's own limit on a URL's length is checked here.
    """
    if image.url is not None:
        if not image.url.startswith("runway://") and len(image.url) > MAX_URL:
            raise InvalidRequest(
                f"{param}: Runway takes image URLs of at most {MAX_URL} characters",
                param=param,
                code="image_url_not_supported",
            )
        return image.url
    return image.data_uri()


def _checked_fields(extra: Mapping[str, Any], model: RunwayModel, endpoint: Endpoint) -> dict[str, Any]:
    """The metadata keys this endpoint documents, checked; others are refused by name."""
    allowed = model.fields.get(endpoint, ())
    fields: dict[str, Any] = {}
    for key, value in extra.items():
        param = f"metadata.{key}"
        if key not in allowed:
            raise InvalidRequest(
                f"{param} is not taken by {model.name} on {endpoint.value}; allowed: {', '.join(allowed) or 'none'}",
                param=param,
                code="unsupported_parameter",
            )
        fields[key] = _checked_value(key, value, param)
    return fields


def _checked_value(key: str, value: Any, param: str) -> Any:
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
            raise InvalidRequest(f"{param} must be an integer from 0 to {MAX_SEED}", param=param)
    elif key == "audio":
        if not isinstance(value, bool):
            raise InvalidRequest(f"{param} must be true or false", param=param)
    elif key == "negativePrompt":
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"{param} must be text", param=param)
    elif key == "contentModeration":
        threshold = value.get("publicFigureThreshold") if isinstance(value, Mapping) else None
        if not isinstance(value, Mapping) or set(value) - {"publicFigureThreshold"}:
            raise InvalidRequest(f"{param} must be {{publicFigureThreshold}}", param=param)
        if threshold is not None and threshold not in PUBLIC_FIGURE_THRESHOLDS:
            raise ValueNotAllowed(f"{param}.publicFigureThreshold", threshold, PUBLIC_FIGURE_THRESHOLDS, "Runway")
        value = dict(value)
    return value


# ---------------------------------------------------------------- responses


@frozen
class RunwayTask:
    """Runway's task object (``GET /v1/tasks/{id}``)."""

    id: str
    status: str = ""
    createdAt: str | None = None
    progress: float | None = None
    output: tuple[str, ...] = ()
    failure: str | None = None
    failureCode: str | None = None


_converter = cattrs.Converter(forbid_extra_keys=False)


def parse_task(body: Any) -> RunwayTask:
    return parse_answer(body, RunwayTask, _converter, vendor="Runway", what="a task object")


def created_id(body: Any) -> str:
    """The task id of a create answer (``{"id": ...}``)."""
    task_id = body.get("id") if isinstance(body, Mapping) else None
    if not isinstance(task_id, str) or not task_id:
        raise UpstreamError(FailureKind.TRANSIENT, "Runway answered a create without a task id", code=BAD_RESPONSE)
    return task_id


# ---------------------------------------------------------------- statuses

#: Every status Runway documents, and what it means here.
STATUSES: Mapping[str, TaskStatus] = {
    "PENDING": TaskStatus.QUEUED,
    "THROTTLED": TaskStatus.QUEUED,  # waiting behind the account's concurrency limit
    "RUNNING": TaskStatus.IN_PROGRESS,
    "SUCCEEDED": TaskStatus.COMPLETED,
    "FAILED": TaskStatus.FAILED,
    "CANCELLED": TaskStatus.CANCELLED,
}

#: ``failureCode`` prefixes and the task error code each becomes, most specific first.
FAILURE_CODES: tuple[tuple[str, str], ...] = (
    ("SAFETY.", "content_policy_violation"),
    ("INPUT_PREPROCESSING.", "invalid_input"),
    ("ASSET.INVALID", "invalid_input"),
    ("INTERNAL.BAD_OUTPUT", "generation_failed"),
    ("INTERNAL", "generation_failed"),
)


def map_status(payload: Any) -> StatusUpdate:
    """Runway's task as a :class:`StatusUpdate`; an unknown status is transient and logged."""
    task = parse_task(payload)
    status = STATUSES.get(task.status)
    if status is None:
        log.warning("runway: unknown task status", status=task.status[:60], runway_task_id=task.id)
        raise UpstreamError(
            FailureKind.TRANSIENT,
            f"Runway reported an unknown task status {task.status[:40]!r}",
            code="upstream_bad_response",
        )
    if status is TaskStatus.IN_PROGRESS:
        return StatusUpdate(status, progress=_percent(task.progress))
    if status is TaskStatus.COMPLETED:
        if not task.output:
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Runway reported success without an output")
            )
        return StatusUpdate(
            status, progress=100, result=VideoResult(url=task.output[0], extra={"runway_task_id": task.id})
        )
    if status is TaskStatus.FAILED:
        return StatusUpdate(status, error=task_error(task.failureCode, task.failure))
    return StatusUpdate(status)


def _percent(progress: float | None) -> int | None:
    if progress is None:
        return None
    return max(0, min(99, int(progress * 100)))


def task_error(failure_code: str | None, failure: str | None) -> TaskError:
    code = "generation_failed"
    for prefix, mapped in FAILURE_CODES:
        if failure_code and failure_code.startswith(prefix):
            code = mapped
            break
    if failure_code and "SAFETY" in failure_code.split("."):
        code = "content_policy_violation"  # moderation met in any stage is never retried
    message = failure or "Runway reported the task failed without a reason"
    if failure_code:
        message = f"{message} ({failure_code})"
    return TaskError(code, message)


# ---------------------------------------------------------------- failures


def error_message(body: Any) -> str:
    """Runway's ``error`` text, with the validation ``issues`` when it sent them."""
    if not isinstance(body, Mapping):
        return ""
    message = str(body.get("error") or "")
    issues = body.get("issues")
    if isinstance(issues, list):
        details = [
            f"{'.'.join(str(part) for part in issue.get('path', []))}: {issue.get('message', '')}".strip(": ")
            for issue in issues
            if isinstance(issue, Mapping)
        ]
        if details:
            message = f"{message} ({'; '.join(details)})" if message else "; ".join(details)
    return message[:500]


def failure_kind(http_status: int, message: str) -> FailureKind:
    """Whose fault a Runway error answer is."""
    if http_status == 400 and _ACCOUNT_MESSAGE.search(message):
        return FailureKind.CHANNEL  # credits exhausted: the account's problem, try another channel
    if http_status == 400 and _MODERATION_MESSAGE.search(message):
        return FailureKind.CONTENT_POLICY
    return failure_for_http_status(http_status)


def upstream_error(
    http_status: int, body: Any, *, retry_after: float | None = None, lookup: bool = False
) -> UpstreamError:
    """The :class:`UpstreamError` for a Runway answer that is not a success."""
    message = error_message(body)
    kind = failure_kind(http_status, message)
    if lookup and http_status == 404:
        kind = FailureKind.NOT_FOUND
    return vendor_error("Runway", http_status, kind, message=message, retry_after=retry_after)
