"""The OpenAI Videos wire format: request payloads out, video objects in.

A private cattrs converter carries the JSON rules; Reelay's domain classes
never see a JSON key. Inbound video objects ignore fields they do not know
(OpenAI adds fields over time, and gateways add their own), outbound payloads
carry only the documented ones.
"""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Mapping
from typing import Any

import cattrs
from attrs import field, frozen
from cattrs.gen import make_dict_unstructure_fn, override

from reelay import (
    Channel,
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    ModelSpec,
    StatusTable,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    ValueNotAllowed,
    VideoResult,
    failure_for_http_status,
)
from reelay.normalize import sniff_mime
from reelay.upstream import JsonResponse, parse_answer

from .models import VENDOR

#: ``prompt`` is 1-32000 characters; ``image_url`` (a URL or data URL) at most 20 MiB of text.
MAX_PROMPT_CHARS = 32000
MAX_IMAGE_URL_CHARS = 20971520
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
#: The gateway's code for content-policy refusals, whatever the vendor called them.
CONTENT_POLICY_CODE = "content_policy_violation"

# ---------------------------------------------------------------- outbound


@frozen
class ImageReference:
    """``input_reference`` in a JSON body: an http(s) URL or a ``data:`` URL."""

    image_url: str = field(repr=False)


@frozen
class CreateVideo:
    """The body of ``POST /v1/videos``.

    Sent as JSON unless ``upload`` is set: an image the caller uploaded as a
    file goes upstream as a file part, and the whole body is then
    ``multipart/form-data``.
    """

    prompt: str = field(repr=False)
    model: str
    seconds: str | None = None
    size: str | None = None
    input_reference: ImageReference | None = None
    upload: ImageInput | None = None
    extra: Mapping[str, Any] = field(factory=dict)
    #: The vendor's character ids, sent as ``characters: [{"id": ...}]``.
    characters: tuple[str, ...] = ()

    @property
    def is_multipart(self) -> bool:
        return self.upload is not None


_converter = cattrs.Converter(omit_if_default=True, forbid_extra_keys=False)
_converter.register_unstructure_hook(
    CreateVideo,
    make_dict_unstructure_fn(
        CreateVideo,
        _converter,
        _cattrs_omit_if_default=True,
        upload=override(omit=True),
        extra=override(omit=True),
        characters=override(omit=True),
    ),
)


def build_payload(request: GenerationRequest, model: ModelSpec, channel: Channel) -> CreateVideo:
    """The ``POST /v1/videos`` body for a normalized request.

    :raises InvalidRequest: for what the endpoint would refuse anyway (no
        prompt, a duration or size the model lacks, more than one image).
    """
    prompt = request.prompt
    if not prompt:
        raise InvalidRequest(
            f"{model.name} needs a prompt, also when an image is given", param="prompt", code="missing_prompt"
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt is longer than {MAX_PROMPT_CHARS} characters", param="prompt")
    if request.duration is not None and model.durations and request.duration not in model.durations:
        raise ValueNotAllowed("seconds", request.duration, model.durations, model.name)
    if request.size is not None and model.sizes and request.size not in model.sizes:
        raise ValueNotAllowed("size", request.size, model.sizes, model.name)
    if request.last_frame is not None or request.reference_images:
        raise InvalidRequest(
            f"{model.name} takes one input image (the first frame)", param="images", code="too_many_images"
        )
    reference, upload = None, None
    image = request.first_frame
    if image is not None:
        _check_image_type(image)
        if image.filename is not None and image.base64 is not None:
            upload = image
        else:
            url = image.data_uri()
            if len(url) > MAX_IMAGE_URL_CHARS:
                raise InvalidRequest(
                    "input_reference is too large to send inline; upload it as a file", param="input_reference"
                )
            reference = ImageReference(url)
    upstream = channel.upstream_model(model)
    if request.requested_model in model.aliases and model.name not in channel.model_map:
        upstream = request.requested_model  # a dated snapshot the caller pinned
    return CreateVideo(
        prompt=prompt,
        model=upstream,
        seconds=str(request.duration) if request.duration is not None else None,
        size=request.size,
        input_reference=reference,
        upload=upload,
        extra=dict(request.extra),
        characters=request.characters,
    )


def _check_image_type(image: ImageInput) -> None:
    mime = image_mime_type(image)
    if not image.is_url and mime is not None and mime not in IMAGE_TYPES:
        raise InvalidRequest(
            f"input_reference must be a JPEG, PNG or WebP image, got {mime}",
            param="input_reference",
            code="unsupported_image_type",
        )


def image_mime_type(image: ImageInput) -> str | None:
    """The image's MIME type: what its bytes show, else what the caller said, else its file name."""
    sniffed = sniff_mime(image.base64) if image.base64 else None
    if sniffed is not None:
        return sniffed
    if image.mime_type and image.mime_type != "application/octet-stream":
        return image.mime_type
    guessed = mimetypes.guess_type(image.filename)[0] if image.filename else None
    return guessed or image.mime_type


def payload_json(payload: CreateVideo) -> dict[str, Any]:
    """``payload`` as a JSON body (``input_reference`` as ``{"image_url": ...}``)."""
    body = _converter.unstructure(payload)
    body.update(payload.extra)
    if payload.characters:
        body["characters"] = [{"id": character} for character in payload.characters]
    return body


def payload_form_fields(payload: CreateVideo) -> dict[str, str]:
    """The text fields of ``payload`` as a multipart body carries them."""
    skipped = ("input_reference", "characters")
    fields = {key: value for key, value in payload_json(payload).items() if key not in skipped}
    form = {key: value if isinstance(value, str) else _json_text(value) for key, value in fields.items()}
    form.update({f"characters[{index}][id]": character for index, character in enumerate(payload.characters)})
    return form


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------- inbound


@frozen
class VideoError:
    code: str | None = None
    message: str | None = None


@frozen
class Video:
    """The video object (``VideoResource``), the fields Reelay reads."""

    id: str
    status: str
    object: str = "video"
    model: str | None = None
    progress: float | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    size: str | None = None
    seconds: str | None = None
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None


@frozen
class VideoList:
    """A page of ``GET /v1/videos``, newest first unless asked otherwise."""

    data: list[Video] = field(factory=list)
    has_more: bool = False
    last_id: str | None = None


def parse_video(body: Any) -> Video:
    """A :class:`Video` from a decoded JSON body.

    :raises UpstreamError: ``TRANSIENT`` when the body is not a video object.
    """
    return parse_answer(body, Video, _converter, vendor=VENDOR, what="a video object")


def parse_video_list(body: Any) -> VideoList:
    """A :class:`VideoList` from a decoded JSON body.

    :raises UpstreamError: ``TRANSIENT`` when the body is not a list of videos.
    """
    return parse_answer(body, VideoList, _converter, vendor=VENDOR, what="a video list")


#: Every status an OpenAI-Videos upstream sends: OpenAI's four, ``cancelled``
#: from compatible gateways (another Reelay among them), and what other
#: gateways add (``pending``, ``processing``, ``succeeded``, ``expired``, ``deleted``...).
STATUSES = StatusTable(
    VENDOR,
    {
        "queued": TaskStatus.QUEUED,
        "pending": TaskStatus.QUEUED,
        "submitted": TaskStatus.QUEUED,
        "in_progress": TaskStatus.IN_PROGRESS,
        "processing": TaskStatus.IN_PROGRESS,
        "running": TaskStatus.IN_PROGRESS,
        "completed": TaskStatus.COMPLETED,
        "succeeded": TaskStatus.COMPLETED,
        "failed": TaskStatus.FAILED,
        "error": TaskStatus.FAILED,
        "expired": TaskStatus.FAILED,
        "cancelled": TaskStatus.CANCELLED,
        "canceled": TaskStatus.CANCELLED,
        "deleted": TaskStatus.CANCELLED,
    },
)


def map_status(payload: Any) -> StatusUpdate:
    """Map a video object into Reelay's vocabulary.

    A completed video carries no URL: its bytes are read from the content
    endpoint, which :func:`reelay_open_content` names, so the result only
    records when the upstream assets expire.
    """
    video = parse_video(payload)
    status = STATUSES.read(video.status)
    progress = None if video.progress is None else max(0, min(100, int(video.progress)))
    if status is TaskStatus.COMPLETED:
        extra = {"expires_at": video.expires_at} if video.expires_at is not None else {}
        return StatusUpdate(status, progress=100, result=VideoResult(duration=_seconds(video.seconds), extra=extra))
    if status is TaskStatus.FAILED:
        default = VideoError(code=None if video.status in ("failed", "error") else video.status)
        return StatusUpdate(status, error=task_error(video.error or default))
    if status is TaskStatus.CANCELLED:
        return StatusUpdate(status, error=video.error and task_error(video.error))
    return StatusUpdate(status, progress=progress)


def task_error(error: VideoError) -> TaskError:
    """Why a video failed. A moderation refusal gets the gateway's one
    content-policy code (callers test for a single code across vendors) and
    keeps OpenAI's code in the message; other codes pass through as they are."""
    message = error.message or (f"the video {error.code}" if error.code else "the video failed")
    if is_moderation(error.code):
        return TaskError(CONTENT_POLICY_CODE, f"{message} ({VENDOR} code: {error.code})")
    return TaskError(error.code or "generation_failed", message)


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------- errors

_MODERATION = re.compile(r"moderation|content_policy|content_filter|safety", re.IGNORECASE)
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9*_\-]{3,})")


def is_moderation(code: str | None, kind: str | None = None) -> bool:
    """Whether an OpenAI error code or type names a content-policy refusal."""
    return any(value and _MODERATION.search(value) for value in (code, kind))


def upstream_error(
    response: JsonResponse, *, action: str, secrets: tuple[str, ...] = (), on_404: FailureKind = FailureKind.CALLER
) -> UpstreamError:
    """The :class:`UpstreamError` for a non-2xx answer.

    400/404/409/422 are the caller's (with OpenAI's message), a refusal by the
    moderation system a content-policy failure, 401/403 this channel's
    credentials, 429 a rate limit (an exhausted quota is the channel's),
    5xx transient. ``on_404`` reads a 404 differently where the id is ours
    (status polling: the video is gone).
    """
    status = response.status
    error = response.body.get("error") if isinstance(response.body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    kind_text = error.get("type") if isinstance(error.get("type"), str) else None
    param = error.get("param") if isinstance(error.get("param"), str) else None
    message = error.get("message") if isinstance(error.get("message"), str) and error.get("message") else None
    detail = scrub(message, secrets) if message else f"HTTP {status}"
    if status in (401, 403):
        # OpenAI echoes part of a rejected key: never pass its message on.
        return UpstreamError(
            FailureKind.CHANNEL,
            f"{VENDOR} refused this channel's credentials ({status}{', ' + code if code else ''})",
            code="channel_unauthorized",
            http_status=status,
        )
    if status == 429:
        if code == "insufficient_quota":
            return UpstreamError(
                FailureKind.CHANNEL, f"{VENDOR} quota of this channel is exhausted", code=code, http_status=status
            )
        return UpstreamError(
            FailureKind.RATE_LIMITED,
            f"{VENDOR} rate limit while trying to {action}",
            http_status=status,
            retry_after=response.retry_after(),
        )
    if status == 404:
        if on_404 is FailureKind.NOT_FOUND:
            return UpstreamError(FailureKind.NOT_FOUND, f"{VENDOR}: {detail}", http_status=status)
        return UpstreamError(FailureKind.CALLER, detail, code=code or "not_found", param=param, http_status=status)
    if 400 <= status < 500:
        if is_moderation(code, kind_text):
            vendor_code = code or kind_text
            return UpstreamError(
                FailureKind.CONTENT_POLICY,
                f"{detail} ({VENDOR} code: {vendor_code})",
                code=CONTENT_POLICY_CODE,
                param=param,
                http_status=status,
            )
        kind = failure_for_http_status(status)
        return UpstreamError(kind, detail, code=code, param=param, http_status=status)
    return UpstreamError(
        FailureKind.TRANSIENT,
        f"{VENDOR} failed to {action} (HTTP {status})",
        code="upstream_unavailable",
        http_status=status,
        retry_after=response.retry_after(),
    )


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with the channel's secrets and anything key-shaped masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("sk-***", text)
