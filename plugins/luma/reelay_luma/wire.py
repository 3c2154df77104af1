"""Luma's wire format: snake_case create bodies, Generation objects (answers and callbacks), ``detail`` errors.

Generations are read through a private cattrs converter into attrs classes;
Luma echoes the request and adds fields over time, so unknown keys are
ignored on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

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

from .models import PROMPT_MAX, PROMPT_MIN, RESOLUTIONS

log = structlog.get_logger(__name__)

#: ``failure_reason`` texts of Luma's moderation (docs' error page).
MODERATION = re.compile(r"blacklist|moderation|nsfw|unsafe|safety", re.IGNORECASE)
#: ``failure_reason`` texts that are the caller's input.
CALLER_INPUT = re.compile(r"failed to read user input|no keyframes|unknown request type", re.IGNORECASE)
#: Refusals that are the account's: balance, billing, plan limits.
ACCOUNT = re.compile(r"credit|balance|billing|payment|insufficient|subscription", re.IGNORECASE)


# ---------------------------------------------------------------- the create body


def create_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    """``POST /dream-machine/v1/generations/video`` for ``request``; :class:`InvalidRequest` for what Luma refuses.

    The core has refused a missing prompt for text-to-video and one past
    :data:`PROMPT_MAX` characters (the models' data); Luma's minimum has no field.
    ``callback_url`` is sent only when the core gives one (the gateway's own
    route; callers cannot set it through metadata).
    """
    keyframes = _keyframes(request)
    prompt = request.prompt
    if prompt is not None and len(prompt) < PROMPT_MIN:
        raise InvalidRequest(
            f"Luma takes prompts of {PROMPT_MIN} to {PROMPT_MAX} characters", param="prompt", code="prompt_too_short"
        )

    body: dict[str, Any] = {"model": model}
    if prompt is not None:
        body["prompt"] = prompt
    if request.size is not None:
        body["aspect_ratio"] = request.size
    if request.duration is not None:
        body["duration"] = f"{request.duration}s"
    if keyframes:
        body["keyframes"] = keyframes
    if request.callback_url is not None:
        body["callback_url"] = request.callback_url
    body.update(_extras(request.extra, keyframes))
    return body


def _keyframes(request: GenerationRequest) -> dict[str, dict[str, str]]:
    frames = {"frame0": (request.first_frame, "image"), "frame1": (request.last_frame, "images")}
    return {slot: _image_keyframe(image, param) for slot, (image, param) in frames.items() if image is not None}


def _image_keyframe(image: ImageInput, param: str) -> dict[str, str]:
    if image.url is None:
        # Luma fetches keyframes by URL only: no base64, no upload endpoint.
        raise InvalidRequest(
            f"{param}: Luma takes keyframe images only as URLs it can fetch; send an http(s) image URL",
            param=param,
            code="image_url_required",
        )
    return {"type": "image", "url": image.url}


def _extras(extra: Mapping[str, Any], keyframes: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "resolution" in extra:
        if extra["resolution"] not in RESOLUTIONS:
            raise ValueNotAllowed("metadata.resolution", extra["resolution"], RESOLUTIONS, "Luma")
        fields["resolution"] = extra["resolution"]
    if "loop" in extra:
        loop = extra["loop"]
        if not isinstance(loop, bool):
            raise InvalidRequest("metadata.loop must be true or false", param="metadata.loop")
        if loop and "frame1" in keyframes:
            raise InvalidRequest(
                "Luma refuses loop with an end frame: loop works with text or a start frame only",
                param="metadata.loop",
            )
        fields["loop"] = loop
    if "concepts" in extra:
        fields["concepts"] = _concepts(extra["concepts"])
    return fields


def _concepts(value: Any) -> list[dict[str, str]]:
    items = value if isinstance(value, list) else None
    keys = [item.get("key") if isinstance(item, Mapping) else item for item in items or ()]
    if items is None or not all(isinstance(key, str) and key for key in keys):
        raise InvalidRequest(
            "metadata.concepts must be a list of concept keys (or {key} objects)", param="metadata.concepts"
        )
    return [{"key": key} for key in keys]


# ---------------------------------------------------------------- the Generation object


@frozen
class Assets:
    video: str | None = None
    image: str | None = None
    progress_video: str | None = None


@frozen
class Generation:
    id: str
    state: str = ""
    failure_reason: str | None = None
    assets: Assets | None = None
    model: str | None = None
    created_at: str | None = None


_generations = cattrs.Converter(forbid_extra_keys=False)


def read_generation(body: Any) -> Generation:
    return parse_answer(body, Generation, _generations, vendor="Luma", what="a generation")


#: Luma's documented states.
STATES: Mapping[str, TaskStatus] = {
    "queued": TaskStatus.QUEUED,
    "dreaming": TaskStatus.IN_PROGRESS,
    "completed": TaskStatus.COMPLETED,
    "failed": TaskStatus.FAILED,
}


def generation_update(payload: Any) -> StatusUpdate:
    """A Generation as a :class:`StatusUpdate`. Luma reports no progress; the core estimates it."""
    generation = read_generation(payload)
    state = STATES.get(generation.state)
    if state is None:
        log.warning("luma: unknown generation state", state=generation.state[:60], generation_id=generation.id)
        raise UpstreamError(
            FailureKind.TRANSIENT,
            f"Luma reported an unknown generation state {generation.state[:40]!r}",
            code="upstream_bad_response",
        )
    if state is TaskStatus.FAILED:
        return StatusUpdate(state, error=failure(generation.failure_reason))
    if state is TaskStatus.COMPLETED:
        video = generation.assets.video if generation.assets else None
        if not video:
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Luma completed without a video")
            )
        extra = {"luma_generation_id": generation.id}
        if generation.assets and generation.assets.image:
            extra["thumbnail_url"] = generation.assets.image
        return StatusUpdate(state, progress=100, result=VideoResult(url=video, extra=extra))
    return StatusUpdate(state)


def failure(reason: str | None) -> TaskError:
    """A ``failure_reason`` sorted: moderation, the caller's input, or Luma's own failure."""
    text = reason or "Luma reported the generation failed without a reason"
    if reason and MODERATION.search(reason):
        return TaskError("content_policy_violation", text)
    if reason and CALLER_INPUT.search(reason):
        return TaskError("invalid_input", text)
    return TaskError("generation_failed", text)


# ---------------------------------------------------------------- callbacks


def parse_callback(body: bytes, task: Task) -> StatusUpdate | None:
    """A Luma callback about ``task`` as the status update a poll would give, or None.

    With ``callback_url`` in the create body, Luma POSTs the whole Generation
    object (as ``GET /generations/{id}`` answers it) on each update:
    ``dreaming``, ``completed`` with ``assets.video``, ``failed`` with
    ``failure_reason``; a state may arrive more than once, and an answer other
    than 200 is retried 3 times, 100 ms apart, each post timing out after 5 s
    (docs.lumalabs.ai/changelog/callbacks-and-credits-balance, API v1.1.0).
    Luma does not sign callbacks: the URL's per-task token is the credential,
    and the body must name the task's generation (``id`` equal to
    ``task.vendor_ref``). None for anything else (another generation's body, a
    task whose generation id is not recorded yet, unreadable JSON, a state
    Luma does not document): it changes nothing, and the polls go on.
    """
    return callback_update(body, task, lambda data: read_generation(data).id, generation_update)


# ---------------------------------------------------------------- error answers


def detail_text(body: Any) -> str:
    """``detail`` as text: Luma sends a string, a FastAPI-style validator a list of ``{loc, msg}``."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if isinstance(detail, str):
        return detail[:500]
    if isinstance(detail, Sequence):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
                parts.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
        return "; ".join(parts)[:500]
    return ""


def refusal(status: int, body: Any, *, retry_after: float | None = None) -> UpstreamError:
    """The :class:`UpstreamError` for a Luma answer that is not a success."""
    text = detail_text(body)
    kind = failure_for_http_status(status)
    if status == 402 or (status in (400, 422) and ACCOUNT.search(text)):
        kind = FailureKind.CHANNEL
    elif status in (400, 422) and MODERATION.search(text):
        kind = FailureKind.CONTENT_POLICY
    return vendor_error("Luma", status, kind, message=text, retry_after=retry_after)
