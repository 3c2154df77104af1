"""Seedance's wire format: the create body out, task objects in (answers and callbacks), failures sorted.

Everything that knows Ark's JSON lives here. Task objects are read through a
private cattrs converter into small attrs classes; Ark adds fields over time,
so unknown keys are ignored on purpose.
"""

from __future__ import annotations

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
    Task,
    TaskError,
    TaskStatus,
    UpstreamError,
    ValueNotAllowed,
    VideoResult,
    failure_for_http_status,
)
from reelay.upstream import callback_update, parse_answer, vendor_error

from .models import SeedanceModel

log = structlog.get_logger("reelay.seedance")

SERVICE_TIERS = ("default", "flex")
EXPIRES_RANGE = (3600, 259200)
SEED_RANGE = (-1, 2**32 - 1)

# ---------------------------------------------------------------- the create body


def image_url(image: ImageInput) -> str:
    """An image as Ark takes it: the caller's URL passed through, or a ``data:`` URI with a lower-case format."""
    if image.url is not None:
        return image.url
    return f"data:{(image.mime_type or 'image/png').lower()};base64,{image.base64}"


def build_body(request: GenerationRequest, model: SeedanceModel, upstream_model: str) -> dict[str, Any]:
    """The create body for ``request``; raises :class:`InvalidRequest` for what the model cannot serve.

    ``request`` arrives normalized: duration within the model's range, size a
    ratio, images placed as first and last frame, metadata reduced to the
    documented keys. Only body fields are sent (never the legacy ``--rs``
    text commands), so Ark validates every one of them. The core's
    ``callback_url`` (the gateway's own route) is sent when given, in place of
    a caller's ``metadata.callback_url``.
    """
    extra = dict(request.extra)
    references = list(request.reference_images)
    if references and (request.first_frame or request.last_frame):
        raise InvalidRequest(
            "Seedance takes either frames (image, images) or reference images (metadata.reference_images), not both",
            param="metadata.reference_images",
        )
    content: list[dict[str, Any]] = []
    if request.prompt is not None:
        content.append({"type": "text", "text": request.prompt})
    frames = [("first_frame", request.first_frame), ("last_frame", request.last_frame)]
    for role, image in frames:
        if image is not None:
            content.append({"type": "image_url", "image_url": {"url": image_url(image)}, "role": role})
    for image in references:
        content.append({"type": "image_url", "image_url": {"url": image_url(image)}, "role": "reference_image"})

    body: dict[str, Any] = {"model": upstream_model, "content": content}
    body["resolution"] = _resolution(extra.pop("resolution", None), model, bool(references))
    if request.is_image_to_video and model.adaptive_only_i2v:
        body["ratio"] = "adaptive"
    elif request.size is not None:
        body["ratio"] = request.size
    if request.duration is not None:
        body["duration"] = request.duration
    _check_metadata(extra, model)
    body.update(extra)
    if request.callback_url is not None:
        body["callback_url"] = request.callback_url
    return body


def _resolution(value: Any, model: SeedanceModel, references: bool) -> str:
    allowed = model.resolutions
    if references and not model.spec.capabilities.text_to_video:  # 1.0 lite with reference images: no 1080p
        allowed = tuple(r for r in allowed if r != "1080p")
    if value is None:
        return model.default_resolution if model.default_resolution in allowed else allowed[-1]
    text = str(value).lower()
    if text not in allowed:
        raise ValueNotAllowed("metadata.resolution", value, allowed, model.name)
    return text


def _check_metadata(extra: Mapping[str, Any], model: SeedanceModel) -> None:
    name = model.name
    for key in ("camera_fixed", "watermark", "generate_audio", "return_last_frame"):
        if key in extra and not isinstance(extra[key], bool):
            raise InvalidRequest(f"metadata.{key} must be true or false", param=f"metadata.{key}")
    if "generate_audio" in extra and not model.audio:
        raise InvalidRequest(
            f"metadata.generate_audio is not supported by {name}", param="metadata.generate_audio", code="unsupported"
        )
    for key in ("seed", "camera_fixed"):
        if key in extra and not model.seed_and_camera:
            raise InvalidRequest(
                f"metadata.{key} is not supported by {name} (Seedance 1.x only)", param=f"metadata.{key}"
            )
    if "seed" in extra and not _int_within(extra["seed"], SEED_RANGE):
        raise InvalidRequest(
            f"metadata.seed must be an integer from {SEED_RANGE[0]} to {SEED_RANGE[1]}", param="metadata.seed"
        )
    if "service_tier" in extra:
        tiers = SERVICE_TIERS if model.flex else ("default",)
        if extra["service_tier"] not in tiers:
            raise ValueNotAllowed("metadata.service_tier", extra["service_tier"], tiers, name)
    if "execution_expires_after" in extra and not _int_within(extra["execution_expires_after"], EXPIRES_RANGE):
        raise InvalidRequest(
            f"metadata.execution_expires_after must be {EXPIRES_RANGE[0]} to {EXPIRES_RANGE[1]} seconds",
            param="metadata.execution_expires_after",
        )
    callback = extra.get("callback_url")
    if "callback_url" in extra and not (isinstance(callback, str) and callback.startswith(("https://", "http://"))):
        raise InvalidRequest("metadata.callback_url must be an http(s) URL", param="metadata.callback_url")


def _int_within(value: Any, bounds: tuple[int, int]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]


# ---------------------------------------------------------------- task objects


@frozen
class Content:
    video_url: str = ""
    last_frame_url: str | None = None


@frozen
class TaskFailure:
    code: str = ""
    message: str = ""


@frozen
class ArkTask:
    """Ark's content-generation task (a GET answer, a callback body)."""

    id: str
    status: str = ""
    model: str = ""
    content: Content | None = None
    error: TaskFailure | None = None
    duration: float | None = None
    resolution: str | None = None
    ratio: str | None = None
    seed: int | None = None
    usage: Mapping[str, Any] = attrs.field(factory=dict)


_converter = cattrs.Converter(forbid_extra_keys=False)


def parse_task(body: Any) -> ArkTask:
    return parse_answer(body, ArkTask, _converter, vendor="Seedance", what="a task object")


# ---------------------------------------------------------------- statuses

_POLICY_MARKERS = ("SensitiveContent", "PolicyViolation", "PrivacyInformation")


def map_status(payload: Any) -> StatusUpdate:
    """Ark's task status as a :class:`StatusUpdate` (Ark reports no progress: the core estimates)."""
    task = parse_task(payload)
    status = task.status
    if status == "queued":
        return StatusUpdate(TaskStatus.QUEUED)
    if status == "running":
        return StatusUpdate(TaskStatus.IN_PROGRESS)
    if status == "succeeded":
        url = task.content.video_url if task.content else ""
        if not url:
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Seedance reported success but sent no video")
            )
        facts = {"seedance_task_id": task.id, "resolution": task.resolution, "ratio": task.ratio, "seed": task.seed}
        facts["completion_tokens"] = task.usage.get("completion_tokens")
        if task.content and task.content.last_frame_url:
            facts["last_frame_url"] = task.content.last_frame_url
        result = VideoResult(
            url=url, duration=task.duration, extra={key: value for key, value in facts.items() if value is not None}
        )
        return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=result)
    if status == "failed":
        return StatusUpdate(TaskStatus.FAILED, error=task_error(task.error))
    if status == "cancelled":
        return StatusUpdate(TaskStatus.CANCELLED)
    if status == "expired":
        message = "Seedance expired the task: it did not finish within execution_expires_after"
        return StatusUpdate(TaskStatus.FAILED, error=TaskError("timeout", message))
    log.warning("seedance_unknown_status", status=status[:40], task=task.id)
    raise UpstreamError(
        FailureKind.TRANSIENT, f"Seedance reported an unknown status {status[:40]!r}", code="upstream_bad_response"
    )


def task_error(failure: TaskFailure | None) -> TaskError:
    if failure is None or not (failure.code or failure.message):
        return TaskError("generation_failed", "Seedance reported the generation failed without a reason")
    text = f"{failure.code}: {failure.message}" if failure.code else failure.message
    if any(marker in failure.code for marker in _POLICY_MARKERS):
        return TaskError("content_policy_violation", text)
    return TaskError("generation_failed", text)


# ---------------------------------------------------------------- callbacks


def parse_callback(body: bytes, task: Task) -> StatusUpdate | None:
    """An Ark callback about ``task`` as the status update a poll would give, or None.

    With ``callback_url`` in the create body, Ark POSTs the task object (the
    JSON ``GET /contents/generations/tasks/{id}`` answers) when the task is
    ``queued``, ``running``, ``succeeded``, ``failed`` or ``expired``; the
    ``succeeded`` and ``failed`` posts are made again, 3 times, when not
    acknowledged within 5 s (volcengine.com/docs/82379/1520757 and BytePlus
    ModelArk's video-generation tutorial, docs.byteplus.com/en/docs/ModelArk/2298881,
    as the fact sheet restates them). Ark does not sign callbacks: the URL's
    per-task token is the credential, and the body must name the task (``id``
    equal to ``task.vendor_ref``). None for anything else (another task's
    body, a task whose Ark id is not recorded yet, unreadable JSON, a status
    Ark does not document): it changes nothing, and the polls go on.
    """
    return callback_update(body, task, lambda data: parse_task(data).id, map_status)


# ---------------------------------------------------------------- errors

#: Ark error codes by whose fault they are; a code is matched whole, then by its prefix before the first dot.
ERROR_KINDS: Mapping[str, FailureKind] = {
    "MissingParameter": FailureKind.CALLER,
    "InvalidParameter": FailureKind.CALLER,
    "InvalidAction": FailureKind.CALLER,
    "InputTextSensitiveContentDetected": FailureKind.CONTENT_POLICY,
    "InputImageSensitiveContentDetected": FailureKind.CONTENT_POLICY,
    "InputVideoSensitiveContentDetected": FailureKind.CONTENT_POLICY,
    "InputAudioSensitiveContentDetected": FailureKind.CONTENT_POLICY,
    "OutputVideoSensitiveContentDetected": FailureKind.CONTENT_POLICY,
    "AuthenticationError": FailureKind.CHANNEL,
    "AccountOverdueError": FailureKind.CHANNEL,
    "AccessDenied": FailureKind.CHANNEL,
    "OperationDenied": FailureKind.CHANNEL,
    "ModelNotOpen": FailureKind.CHANNEL,
    "InvalidEndpointOrModel": FailureKind.CHANNEL,
    "QuotaExceeded": FailureKind.CHANNEL,
    "SetLimitExceeded": FailureKind.CHANNEL,
    "RateLimitExceeded": FailureKind.RATE_LIMITED,
    "ModelAccountRpmRateLimitExceeded": FailureKind.RATE_LIMITED,
    "RequestBurstTooFast": FailureKind.RATE_LIMITED,
    "ServerOverloaded": FailureKind.TRANSIENT,
    "InternalServiceError": FailureKind.TRANSIENT,
    "ResourceNotFound": FailureKind.NOT_FOUND,
}


def failure_kind(http_status: int, code: str) -> FailureKind:
    """Whose fault an Ark error is: by its code, else by its HTTP status."""
    for key in (code, code.split(".", 1)[0]):
        if key in ERROR_KINDS:
            return ERROR_KINDS[key]
    return failure_for_http_status(http_status)


def upstream_error(http_status: int, body: Any, retry_after: float | None = None) -> UpstreamError:
    """The :class:`UpstreamError` for an Ark answer that is not a success."""
    error = body.get("error") if isinstance(body, Mapping) else None
    error = error if isinstance(error, Mapping) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")[:400]
    param = error.get("param") if isinstance(error.get("param"), str) else None
    kind = failure_kind(http_status, code)
    return vendor_error("Seedance", http_status, kind, code=code, message=message, param=param, retry_after=retry_after)
