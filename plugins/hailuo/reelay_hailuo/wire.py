"""Hailuo's wire format: the create body out, query and file answers and callbacks in, ``base_resp`` codes sorted.

MiniMax answers HTTP 200 with ``base_resp.status_code`` non-zero for most
failures, so a failure is read from the body first and the HTTP status only
after. Unknown keys in answers are ignored on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reelay import (
    FailureKind,
    GenerationRequest,
    InvalidRequest,
    StatusTable,
    StatusUpdate,
    Task,
    TaskError,
    TaskStatus,
    UpstreamError,
    VideoResult,
    failure_for_http_status,
)
from reelay.upstream import callback_update, vendor_error

from .models import RESOLUTIONS, HailuoModel

# ---------------------------------------------------------------- the create body


def build_body(request: GenerationRequest, model: HailuoModel, upstream_model: str) -> dict[str, Any]:
    """The ``/v1/video_generation`` body; the mode follows from which image fields are present.

    Images go as MiniMax takes them: an https URL passed through, inline ones
    as ``data:image/...;base64,`` URIs. The core has refused what the model's
    data excludes (the prompt's length, sizes per kind of input, image rules).
    The core's ``callback_url`` (the gateway's own route) is sent when given,
    in place of a caller's ``metadata.callback_url``.
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
    if request.callback_url is not None:
        body["callback_url"] = request.callback_url
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
    callback = checked.get("callback_url")
    if "callback_url" in checked and not (isinstance(callback, str) and callback.startswith(("https://", "http://"))):
        raise InvalidRequest("metadata.callback_url must be an http(s) URL", param="metadata.callback_url")
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

#: Every ``status`` MiniMax documents: the query's capitalised values (video-generation-query),
#: and the lower-case ones the create pages give for callbacks (``processing``, ``success``,
#: ``failed``). The earlier guide's callback example sends ``Success``: both are read.
STATUSES = StatusTable(
    "Hailuo",
    {
        "Preparing": TaskStatus.QUEUED,
        "Queueing": TaskStatus.QUEUED,
        "Processing": TaskStatus.IN_PROGRESS,
        "Success": TaskStatus.COMPLETED,
        "Fail": TaskStatus.FAILED,
        "processing": TaskStatus.IN_PROGRESS,
        "success": TaskStatus.COMPLETED,
        "failed": TaskStatus.FAILED,
    },
)


def map_status(payload: Any) -> StatusUpdate:
    """A query answer (or a callback, the same shape) as a :class:`StatusUpdate`; the video is a
    ``file_id`` resolved when it is read.

    :raises UpstreamError: transient, for a payload that is not an object (``upstream_bad_response``)
        or a status outside :data:`STATUSES` (``unknown_status``, logged with the value).
    """
    if not isinstance(payload, Mapping):
        raise UpstreamError(FailureKind.TRANSIENT, "Hailuo answered without a task", code="upstream_bad_response")
    code = status_code(payload)
    if code in MODERATION_CODES:  # the task's end whatever its status says
        return StatusUpdate(TaskStatus.FAILED, error=_task_error(code, _status_msg(payload)))
    status = STATUSES.read(payload.get("status"))
    if status is TaskStatus.FAILED:
        return StatusUpdate(TaskStatus.FAILED, error=_task_error(code, _status_msg(payload)))
    if status is not TaskStatus.COMPLETED:
        return StatusUpdate(status)
    file_id = payload.get("file_id")
    if file_id in (None, ""):
        return StatusUpdate(
            TaskStatus.FAILED, error=TaskError("generation_failed", "Hailuo reported success but sent no file_id")
        )
    facts = {"file_id": str(file_id), "hailuo_task_id": str(payload.get("task_id") or "")}
    for key in ("video_width", "video_height"):  # a callback leaves them out (the earlier guide)
        if isinstance(payload.get(key), int):
            facts[key] = payload[key]
    return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=VideoResult(extra=facts))


def task_id(payload: Any) -> str:
    """``task_id`` of a query answer or callback: MiniMax sends a string of digits.

    :raises UpstreamError: transient, when there is none (or it is not a string).
    """
    value = payload.get("task_id") if isinstance(payload, Mapping) else None
    if not isinstance(value, str) or not value:
        raise UpstreamError(FailureKind.TRANSIENT, "Hailuo sent no task_id", code="upstream_bad_response")
    return value


# ---------------------------------------------------------------- callbacks


def callback_reply(body: bytes) -> dict[str, str] | None:
    """The answer to MiniMax's check of a callback URL: ``{"challenge": <value>}`` echoed, else None.

    With ``callback_url`` in the create body, MiniMax first POSTs
    ``{"challenge": "<value>"}`` there and creates the task only if the URL
    answers the same value within 3 s (platform.minimax.io video-generation
    create pages, ``callback_url``; the earlier guide: otherwise "task
    creation failure"). A challenge is a JSON object whose ``challenge`` is
    a non-empty string; anything else is None (read as a status callback).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        return None
    challenge = data.get("challenge") if isinstance(data, dict) else None
    return {"challenge": challenge} if isinstance(challenge, str) and challenge else None


def parse_callback(body: bytes, task: Task) -> StatusUpdate | None:
    """A MiniMax status callback about ``task`` as the update a poll would give, or None.

    After the challenge, MiniMax POSTs each status change with the query
    answer's shape (``task_id``, ``status``, ``file_id``, ``base_resp``),
    statuses named ``processing``, ``success``, ``failed`` (create pages; the
    earlier guide's example says ``Success`` and leaves out width and
    height): read by :func:`map_status` as a poll is. MiniMax signs nothing:
    the URL's per-task token is the credential, and the body must name the
    task (``task_id`` equal to ``task.vendor_ref``). None for anything else
    (another task's body, a task whose MiniMax id is not recorded yet,
    unreadable JSON, a status MiniMax does not document): it changes
    nothing, and the polls go on.
    """
    return callback_update(body, task, task_id, map_status)


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
