"""DashScope's wire format for Wan: ``{model, input, parameters}`` out, ``output`` in, codes sorted.

A task's parameter errors come either as a 400 at creation or as a FAILED
task with ``output.code``; both are read here. Unknown keys are ignored.
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

from .models import I2V_TIERS, Kind, WanModel

log = structlog.get_logger("reelay.wan")

SHOT_TYPES = ("single", "multi")


def build_body(request: GenerationRequest, model: WanModel, upstream_model: str) -> dict[str, Any]:
    """The create body; images pass as the caller sent them (an http(s) URL or a ``data:`` URI)."""
    extra = dict(request.extra)
    inputs: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    if request.prompt is not None:
        inputs["prompt"] = request.prompt
    for key in ("negative_prompt", "audio_url"):
        if key in extra:
            inputs[key] = extra.pop(key)
    if model.kind is Kind.I2V and request.first_frame is not None:
        inputs["img_url"] = request.first_frame.data_uri()
    if model.kind is Kind.KF2V and request.first_frame is not None:
        inputs["first_frame_url"] = request.first_frame.data_uri()
        if request.last_frame is not None:
            inputs["last_frame_url"] = request.last_frame.data_uri()
    if request.size is not None:
        if model.kind is Kind.T2V:
            parameters["size"] = request.size.replace("x", "*")
        else:
            parameters["resolution"] = I2V_TIERS[request.size]
    if request.duration is not None:
        parameters["duration"] = request.duration
    _check_extra(extra, inputs, model)
    parameters.update(extra)
    return {"model": upstream_model, "input": inputs, "parameters": parameters}


def _check_extra(extra: Mapping[str, Any], inputs: Mapping[str, Any], model: WanModel) -> None:
    if "audio_url" in inputs and not model.audio:
        raise InvalidRequest(
            f"metadata.audio_url is not supported by {model.name} (Wan 2.5 and 2.6 only)", param="metadata.audio_url"
        )
    if "shot_type" in extra and (not model.shot_type or extra["shot_type"] not in SHOT_TYPES):
        raise InvalidRequest(
            f"metadata.shot_type takes {' or '.join(SHOT_TYPES)} on Wan 2.6 models only", param="metadata.shot_type"
        )
    for key in ("prompt_extend", "watermark"):
        if key in extra and not isinstance(extra[key], bool):
            raise InvalidRequest(f"metadata.{key} must be true or false", param=f"metadata.{key}")
    seed = extra.get("seed")
    if "seed" in extra and not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= 2147483647):
        raise InvalidRequest("metadata.seed must be an integer from 0 to 2147483647", param="metadata.seed")


# ---------------------------------------------------------------- failures

#: DashScope error codes by whose fault they are.
CODE_KINDS: Mapping[str, FailureKind] = {
    "InvalidParameter": FailureKind.CALLER,
    "UnsupportedOperation": FailureKind.CALLER,
    "DataInspectionFailed": FailureKind.CONTENT_POLICY,
    "IPInfringementSuspect": FailureKind.CONTENT_POLICY,
    "InvalidApiKey": FailureKind.CHANNEL,
    "AccessDenied": FailureKind.CHANNEL,
    "AccessDenied.Unpurchased": FailureKind.CHANNEL,
    "Arrearage": FailureKind.CHANNEL,
    "Throttling.AllocationQuota": FailureKind.CHANNEL,
    "Throttling": FailureKind.RATE_LIMITED,
    "Throttling.RateQuota": FailureKind.RATE_LIMITED,
    "InternalError": FailureKind.TRANSIENT,
    "ServiceUnavailable": FailureKind.TRANSIENT,
}


def failure_kind(http_status: int, code: str) -> FailureKind:
    kind = CODE_KINDS.get(code) or CODE_KINDS.get(code.partition(".")[0])
    return kind or failure_for_http_status(http_status)


def raise_for(http_status: int, body: Any, retry_after: float | None = None) -> None:
    """Raise the :class:`UpstreamError` a DashScope answer that is not a success means."""
    fields = body if isinstance(body, Mapping) else {}
    code, message = str(fields.get("code") or ""), str(fields.get("message") or "")[:300]
    kind = failure_kind(http_status, code)
    raise vendor_error("Wan", http_status, kind, code=code, message=message, retry_after=retry_after)


# ---------------------------------------------------------------- statuses


def map_status(payload: Any) -> StatusUpdate:
    """A ``GET /tasks/{id}`` answer as a :class:`StatusUpdate`."""
    output = payload.get("output") if isinstance(payload, Mapping) else None
    if not isinstance(output, Mapping):
        raise UpstreamError(FailureKind.TRANSIENT, "Wan answered without an output", code="upstream_bad_response")
    status = str(output.get("task_status") or "")
    if status == "PENDING":
        return StatusUpdate(TaskStatus.QUEUED)
    if status == "RUNNING":
        return StatusUpdate(TaskStatus.IN_PROGRESS)
    if status == "CANCELED":
        return StatusUpdate(TaskStatus.CANCELLED)
    if status == "FAILED":
        code = str(output.get("code") or "")
        reason = f"{code}: {output.get('message') or 'no reason given'}" if code else "Wan reported the task failed"
        policy = failure_kind(400, code) is FailureKind.CONTENT_POLICY
        return StatusUpdate(
            TaskStatus.FAILED, error=TaskError("content_policy_violation" if policy else "generation_failed", reason)
        )
    if status == "SUCCEEDED":
        url = output.get("video_url")
        if not isinstance(url, str) or not url:
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Wan succeeded without a video_url")
            )
        usage = payload.get("usage") if isinstance(payload.get("usage"), Mapping) else {}
        seconds = usage.get("duration", usage.get("video_duration"))
        facts = {"wan_task_id": output.get("task_id"), "actual_prompt": output.get("actual_prompt")}
        result = VideoResult(
            url=url,
            duration=float(seconds) if isinstance(seconds, int | float) else None,
            extra={key: value for key, value in facts.items() if value},
        )
        return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=result)
    if status == "UNKNOWN":  # DashScope's answer for an id it does not know, or one older than 24 hours
        raise UpstreamError(FailureKind.NOT_FOUND, "Wan does not know this task (UNKNOWN)")
    log.warning("wan_unknown_status", status=status[:40])
    raise UpstreamError(
        FailureKind.TRANSIENT, f"Wan reported an unknown task_status {status[:40]!r}", code="upstream_bad_response"
    )
