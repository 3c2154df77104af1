"""Hailuo's wire format: the create body out, query and file answers in, ``base_resp`` codes sorted.

MiniMax answers HTTP 200 with ``base_resp.status_code`` non-zero for most
failures, so a failure is read from the body first and the HTTP status only
after. Unknown keys in answers are ignored on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from reelay import (
    FailureKind,
    GenerationRequest,
    InvalidRequest,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    VideoResult,
    failure_for_http_status,
)
from reelay.upstream import vendor_error

from .models import RESOLUTIONS, HailuoModel

log = structlog.get_logger("reelay.hailuo")


# ---------------------------------------------------------------- the create body


def build_body(request: GenerationRequest, model: HailuoModel, upstream_model: str) -> dict[str, Any]:
    """The ``/v1/video_generation`` body; the mode follows from which image fields are present.

    Images go as MiniMax takes them: an https URL passed through, inline ones
    as ``data:image/...;base64,`` URIs. The core has refused what the model's
    data excludes (the prompt's length, sizes per kind of input, image rules).
    """
    body: dict[str, Any] = {"model": upstream_model}
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if model.subject:
        (subject,) = request.reference_images
        body["subject_reference"] = [{"type": "character", "image": [subject.data_uri()]}]
    else:
        if request.duration is not None:
            body["duration"] = request.duration
        if request.size is not None:
            body["resolution"] = RESOLUTIONS[request.size]
    if request.first_frame is not None:
        body["first_frame_image"] = request.first_frame.data_uri()
    if request.last_frame is not None:
        body["last_frame_image"] = request.last_frame.data_uri()
    body.update(_checked_metadata(request.extra, model))
    return body


def _checked_metadata(extra: Mapping[str, Any], model: HailuoModel) -> dict[str, Any]:
    checked = dict(extra)
    for key in ("prompt_optimizer", "fast_pretreatment", "aigc_watermark"):
        if key in checked and not isinstance(checked[key], bool):
            raise InvalidRequest(f"metadata.{key} must be true or false", param=f"metadata.{key}")
    if checked.get("fast_pretreatment") and not model.fast_pretreatment:
        raise InvalidRequest(
            f"metadata.fast_pretreatment has no effect on {model.name}: only Hailuo 2.3, 2.3-Fast and 02",
            param="metadata.fast_pretreatment",
        )
    return checked


# ---------------------------------------------------------------- base_resp codes

#: MiniMax ``base_resp.status_code`` values by whose fault they are (the error-code page).
CODE_KINDS: Mapping[int, FailureKind] = {
    2013: FailureKind.CALLER,
    1042: FailureKind.CALLER,
    1026: FailureKind.CONTENT_POLICY,
    1027: FailureKind.CONTENT_POLICY,
    1004: FailureKind.CHANNEL,
    2049: FailureKind.CHANNEL,
    1008: FailureKind.CHANNEL,
    2056: FailureKind.CHANNEL,
    2061: FailureKind.CHANNEL,
    1002: FailureKind.RATE_LIMITED,
    1039: FailureKind.RATE_LIMITED,
    1041: FailureKind.RATE_LIMITED,
    1000: FailureKind.TRANSIENT,
    1001: FailureKind.TRANSIENT,
    1013: FailureKind.TRANSIENT,
    1024: FailureKind.TRANSIENT,
    1033: FailureKind.TRANSIENT,
}
#: Codes a finished task reports as its end, not as a failed call.
MODERATION_CODES = (1026, 1027)


def status_code(body: Any) -> int:
    """``base_resp.status_code`` (0 when absent)."""
    base = body.get("base_resp") if isinstance(body, Mapping) else None
    code = base.get("status_code") if isinstance(base, Mapping) else 0
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _status_msg(body: Any) -> str:
    base = body.get("base_resp") if isinstance(body, Mapping) else None
    message = base.get("status_msg") if isinstance(base, Mapping) else None
    return str(message)[:300] if message else ""


def failure_kind(http_status: int, code: int) -> FailureKind:
    if code in CODE_KINDS:
        return CODE_KINDS[code]
    return failure_for_http_status(http_status) if http_status >= 400 else FailureKind.TRANSIENT


def checked(http_status: int, body: Any, retry_after: float | None = None, *, lookup: bool = False) -> Any:
    """``body`` when MiniMax succeeded, else the :class:`UpstreamError` it means.

    :param lookup: a query by id, where 2013 (invalid params) means the id is unknown.
    """
    code = status_code(body)
    if 200 <= http_status < 300 and code == 0:
        if not isinstance(body, Mapping):
            raise UpstreamError(FailureKind.TRANSIENT, "Hailuo answered without a JSON object")
        return body
    kind = failure_kind(http_status, code)
    if lookup and code == 2013:
        kind = FailureKind.NOT_FOUND
    retry = retry_after if retry_after is not None else (10.0 if kind is FailureKind.RATE_LIMITED else None)
    raise vendor_error("Hailuo", http_status, kind, code=code, message=_status_msg(body), retry_after=retry)


# ---------------------------------------------------------------- statuses

_QUEUED = ("Preparing", "Queueing")


def map_status(payload: Any) -> StatusUpdate:
    """A query answer as a :class:`StatusUpdate`; the video is a ``file_id`` resolved when it is read."""
    if not isinstance(payload, Mapping):
        raise UpstreamError(FailureKind.TRANSIENT, "Hailuo answered without a task", code="upstream_bad_response")
    status = str(payload.get("status") or "")
    code = status_code(payload)
    if code in MODERATION_CODES or status == "Fail":
        return StatusUpdate(TaskStatus.FAILED, error=_task_error(code, _status_msg(payload)))
    if status in _QUEUED:
        return StatusUpdate(TaskStatus.QUEUED)
    if status == "Processing":
        return StatusUpdate(TaskStatus.IN_PROGRESS)
    if status == "Success":
        file_id = payload.get("file_id")
        if file_id in (None, ""):
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Hailuo reported success but sent no file_id")
            )
        facts = {"file_id": str(file_id), "hailuo_task_id": str(payload.get("task_id") or "")}
        for key in ("video_width", "video_height"):
            if isinstance(payload.get(key), int):
                facts[key] = payload[key]
        return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=VideoResult(extra=facts))
    log.warning("hailuo_unknown_status", status=status[:40], task=str(payload.get("task_id"))[:40])
    raise UpstreamError(
        FailureKind.TRANSIENT, f"Hailuo reported an unknown status {status[:40]!r}", code="upstream_bad_response"
    )


def _task_error(code: int, message: str) -> TaskError:
    if code == 1026:
        return TaskError("content_policy_violation", f"Hailuo refused the input as sensitive (1026) {message}".strip())
    if code == 1027:
        return TaskError("content_policy_violation", f"Hailuo found the video sensitive (1027) {message}".strip())
    reason = f"Hailuo error {code}: {message}" if code else "Hailuo reported the generation failed"
    return TaskError("generation_failed", reason)


def download_url(body: Mapping[str, Any]) -> str:
    """``file.download_url`` of a files/retrieve answer."""
    file = body.get("file")
    url = file.get("download_url") if isinstance(file, Mapping) else None
    if not isinstance(url, str) or not url:
        raise UpstreamError(FailureKind.NOT_FOUND, "Hailuo's file has no download_url")
    return url
