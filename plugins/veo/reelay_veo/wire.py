"""Veo's wire format: request bodies out, operations and errors in.

Everything that knows Google's JSON lives here. Operations are read through a
private cattrs converter into small attrs classes; Google adds fields over
time, so unknown keys are ignored on purpose. The domain objects the core
sees stay JSON-free.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from attrs import frozen
from cattrs.gen import make_dict_structure_fn, override

from reelay import (
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    StatusTable,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    VideoResult,
)
from reelay.images import check_image as check_image_rules

from .models import IMAGE_RULES, SIZES, VERTEX_ONLY_PARAMETERS, ApiForm, VeoModel

IMAGE_TYPES = IMAGE_RULES.types
#: Google: "Each extension adds 7 s" and durationSeconds "must be 8 with extension".
EXTENSION_SECONDS = (7,)
EXTENSION_DURATION_SECONDS = 8
PERSON_GENERATION = ("allow_all", "allow_adult", "dont_allow")
COMPRESSION_QUALITY = ("optimized", "lossless")
RESIZE_MODES = ("pad", "crop")
MAX_SEED = 2**32 - 1

#: gRPC canonical codes, as ``google.rpc.Status.code`` carries them.
RPC_CODES = {
    1: "cancelled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}

#: Every state a Veo operation can be in: ``running`` (not ``done``), ``ok``
#: (done with a response) or, done with an ``error``, the name of its
#: ``google.rpc.Code``: ``cancelled`` ends the task as cancelled, every other
#: code as failed. A code Google adds later is unknown until it is added here.
STATUSES = StatusTable(
    "Veo",
    {
        "running": TaskStatus.IN_PROGRESS,
        "ok": TaskStatus.COMPLETED,
        **{name: TaskStatus.CANCELLED if name == "cancelled" else TaskStatus.FAILED for name in RPC_CODES.values()},
    },
    field="operation state",
)

# Google's refusals of a prompt or image at submission ("...violate Google's
# Responsible AI practices...", "...usage guidelines...") arrive as plain 400s.
_CONTENT_POLICY_MESSAGE = re.compile(
    r"responsible ai|usage guidelines|violat\w* .*polic|safety (filter|setting|polic)|sensitive words"
    r"|prohibited content|could not be submitted",
    re.IGNORECASE,
)


# ---------------------------------------------------------------- requests


@frozen
class VeoPayload:
    """What ``reelay_build_payload`` hands to ``reelay_submit``.

    Images stay :class:`reelay.ImageInput` until submission, where URLs are
    downloaded (Veo takes bytes); :func:`request_body` then writes the JSON.
    """

    api: ApiForm
    model: str
    prompt: str | None = None
    first_frame: ImageInput | None = None
    last_frame: ImageInput | None = None
    reference_images: tuple[ImageInput, ...] = ()
    parameters: Mapping[str, Any] = attrs.field(factory=dict)
    #: set when this channel's form does not serve the model: submit fails over
    unavailable: str | None = None

    def images(self) -> list[tuple[str, ImageInput]]:
        """Every input image with the request field it is reported under."""
        named = []
        if self.first_frame is not None:
            named.append(("image", self.first_frame))
        if self.last_frame is not None:
            named.append(("images[1]", self.last_frame))
        named.extend((f"metadata.referenceImages[{i}]", image) for i, image in enumerate(self.reference_images))
        return named


def build_payload(request: GenerationRequest, model: VeoModel, api: ApiForm, upstream: str) -> VeoPayload:
    """Check a normalized request against Veo's rules and lay out its parameters.

    :raises InvalidRequest: naming the field, for what this model or form refuses.
    """
    parameters: dict[str, Any] = {"sampleCount": 1}
    if request.duration is not None:
        parameters["durationSeconds"] = request.duration
    if request.size is not None:
        aspect_ratio, resolution = SIZES[request.size]
        parameters["aspectRatio"] = aspect_ratio
        if resolution is not None and model.resolutions:
            parameters["resolution"] = resolution
    parameters.update(_metadata_parameters(request.extra, model, api))
    if api is ApiForm.VERTEX and model.audio:
        parameters.setdefault("generateAudio", True)  # Vertex requires it for Veo 3 models
    if request.reference_images and request.prompt is None:
        raise InvalidRequest("reference images need a prompt describing the video", param="prompt")
    for param, image in _named_images(request):
        if image.url is None:
            check_image(image, param)
    unavailable = None
    if api not in model.forms:
        unavailable = f"{model.name} is served only on {', '.join(f.value for f in model.forms)} channels"
    return VeoPayload(
        api=api,
        model=upstream,
        prompt=request.prompt,
        first_frame=request.first_frame,
        last_frame=request.last_frame,
        reference_images=request.reference_images,
        parameters=parameters,
        unavailable=unavailable,
    )


def _named_images(request: GenerationRequest) -> list[tuple[str, ImageInput]]:
    return VeoPayload(
        api=ApiForm.GEMINI,
        model="",
        first_frame=request.first_frame,
        last_frame=request.last_frame,
        reference_images=request.reference_images,
    ).images()


def _metadata_parameters(extra: Mapping[str, Any], model: VeoModel, api: ApiForm) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for key, value in extra.items():
        param = f"metadata.{key}"
        if key in VERTEX_ONLY_PARAMETERS and api is not ApiForm.VERTEX:
            raise InvalidRequest(
                f"{param}: {key} is a Vertex AI parameter; this Gemini API channel cannot send it",
                param=param,
                code="unsupported_parameter",
            )
        if key == "generateAudio" and not model.audio:
            raise InvalidRequest(f"{param}: {model.name} makes silent videos", param=param)
        parameters[key] = _checked(key, value, param)
    return parameters


def _checked(key: str, value: Any, param: str) -> Any:
    """A metadata value of the type Veo wants, or an InvalidRequest naming it."""
    if key in ("enhancePrompt", "generateAudio"):
        if not isinstance(value, bool):
            raise InvalidRequest(f"{param} must be true or false", param=param)
        return value
    if key in ("seed", "fps"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
            raise InvalidRequest(f"{param} must be an integer from 0 to {MAX_SEED}", param=param)
        return value
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{param} must be a non-empty string", param=param)
    choices = {
        "personGeneration": PERSON_GENERATION,
        "compressionQuality": COMPRESSION_QUALITY,
        "resizeMode": RESIZE_MODES,
    }.get(key)
    if choices is not None and value.lower() not in choices:
        raise InvalidRequest(f"{param} must be one of {', '.join(choices)}", param=param)
    if key == "storageUri" and not value.startswith("gs://"):
        raise InvalidRequest(f"{param} must be a gs://bucket/prefix URI", param=param)
    return value


def check_image(image: ImageInput, param: str) -> None:
    """Veo takes JPEG, PNG and WebP as base64 with their MIME type (:data:`IMAGE_RULES`, judged by the bytes)."""
    if image.mime_type is None:
        raise InvalidRequest(
            f"{param}: the image type could not be recognised; send a data URI such as data:image/png;base64,...",
            param=param,
        )
    check_image_rules(image, IMAGE_RULES, param)


def request_body(payload: VeoPayload) -> dict[str, Any]:
    """The ``predictLongRunning`` JSON body; every image must be inline by now."""
    instance: dict[str, Any] = {}
    if payload.prompt is not None:
        instance["prompt"] = payload.prompt
    if payload.first_frame is not None:
        instance["image"] = _image(payload.first_frame)
    if payload.last_frame is not None:
        instance["lastFrame"] = _image(payload.last_frame)
    if payload.reference_images:
        instance["referenceImages"] = [
            {"image": _image(image), "referenceType": "asset"} for image in payload.reference_images
        ]
    return {"instances": [instance], "parameters": dict(payload.parameters)}


def _image(image: ImageInput) -> dict[str, str]:
    if image.base64 is None or image.mime_type is None:
        raise ValueError("images must be fetched before the body is written")
    return {"bytesBase64Encoded": image.base64, "mimeType": image.mime_type.lower()}


# ---------------------------------------------------------------- operations


@frozen
class RpcStatus:
    """``google.rpc.Status``, as operations and HTTP errors carry it."""

    code: Any = 0
    message: str = ""
    status: str = ""
    details: list[Any] = attrs.field(factory=list)


@frozen
class Video:
    """A sample's video.

    Gemini sends ``{uri}`` (or ``{encodedVideo, encoding}``), Vertex
    ``{gcsUri | bytesBase64Encoded, mimeType}``.
    """

    uri: str | None = None
    encoded_video: str | None = None
    encoding: str | None = None
    gcs_uri: str | None = None
    bytes_base64_encoded: str | None = None
    mime_type: str | None = None


@frozen
class Sample:
    video: Video | None = None


@frozen
class VideoResponse:
    """Gemini's ``generateVideoResponse`` or Vertex's ``response``, which differ only in names."""

    generated_samples: list[Sample] = attrs.field(factory=list)
    videos: list[Video] = attrs.field(factory=list)
    rai_media_filtered_count: int = 0
    rai_media_filtered_reasons: list[str] = attrs.field(factory=list)

    def all_videos(self) -> list[Video]:
        return [sample.video for sample in self.generated_samples if sample.video is not None] + list(self.videos)


@frozen
class Operation:
    """``google.longrunning.Operation``; a missing ``done`` means not done (proto3 JSON omits false)."""

    name: str = ""
    done: bool = False
    error: RpcStatus | None = None
    response: VideoResponse | None = None


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _register_camel_case(converter: cattrs.Converter, cls: type) -> Callable[[Any, type], Any]:
    """Structure ``cls`` from a JSON object with Google's lowerCamelCase keys; returns the hook."""
    overrides = {field.name: override(rename=_camel(field.name)) for field in attrs.fields(cls)}
    fields_from = make_dict_structure_fn(cls, converter, **overrides)

    def hook(value: Any, _: type) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected an object for {cls.__name__}")
        return fields_from(value, cls)

    converter.register_structure_hook(cls, hook)
    return hook


def _strict(kind: type) -> Callable[[Any, type], Any]:
    def hook(value: Any, _: type) -> Any:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    for kind in (str, int, bool):
        converter.register_structure_hook(kind, _strict(kind))
    for cls in (RpcStatus, Video, Sample, Operation):
        _register_camel_case(converter, cls)
    response_fields = _register_camel_case(converter, VideoResponse)

    def response_hook(value: Any, _: type) -> VideoResponse:
        if not isinstance(value, Mapping):
            raise TypeError("the operation's response is not an object")
        inner = value.get("generateVideoResponse", value)  # Gemini nests it, Vertex does not
        return response_fields(inner, VideoResponse)

    converter.register_structure_hook(VideoResponse, response_hook)
    return converter


_converter = _make_converter()


def parse_operation(payload: Any) -> Operation:
    """An operation from Google's JSON.

    :raises UpstreamError: ``TRANSIENT`` when the body is not an operation.
    """
    if not isinstance(payload, Mapping):
        raise UpstreamError(FailureKind.TRANSIENT, "Veo answered something that is not an operation")
    try:
        return _converter.structure(dict(payload), Operation)
    except (cattrs.BaseValidationError, TypeError, ValueError) as error:
        detail = "; ".join(cattrs.transform_error(error)) if isinstance(error, cattrs.BaseValidationError) else error
        raise UpstreamError(FailureKind.TRANSIENT, f"Veo answered a malformed operation ({detail})") from None


def map_status(payload: Any) -> StatusUpdate:
    """A Veo operation in Reelay's vocabulary."""
    operation = parse_operation(payload)
    status = STATUSES.read(operation_state(operation))
    if status is TaskStatus.IN_PROGRESS:
        return StatusUpdate(status)  # Veo gives no progress: the core estimates it
    if operation.error is not None:
        error = operation.error
        code = operation_state(operation)
        message = error.message or "Veo reported a failure without a message"
        return StatusUpdate(status, error=TaskError(code or "generation_failed", message))
    response = operation.response or VideoResponse()
    videos = response.all_videos()
    if videos:
        return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=_result(videos[0], len(videos)))
    if response.rai_media_filtered_count > 0 or response.rai_media_filtered_reasons:
        reasons = "; ".join(response.rai_media_filtered_reasons) or "no reason given"
        count = response.rai_media_filtered_count or 1
        message = f"Veo's safety filters removed {count} video{'s' if count != 1 else ''}: {reasons}"
        return StatusUpdate(TaskStatus.FAILED, error=TaskError("content_filtered", message))
    return StatusUpdate(TaskStatus.FAILED, error=TaskError("no_video", "Veo finished without returning a video"))


def operation_state(operation: Operation) -> str:
    """The operation's state as :data:`STATUSES` reads it."""
    if not operation.done:
        return "running"
    error = operation.error
    if error is None:
        return "ok"
    if isinstance(error.code, int):  # proto3 JSON omits a zero code: a failure without one is "unknown"
        return RPC_CODES.get(error.code, str(error.code)) if error.code else "unknown"
    return str(error.code or "unknown").lower()


def _result(video: Video, count: int) -> VideoResult:
    mime_type = video.mime_type or video.encoding or "video/mp4"
    extra = {"samples": count} if count > 1 else {}
    inline = video.bytes_base64_encoded or video.encoded_video
    if inline:
        try:
            data = base64.b64decode(inline, validate=False)
        except (binascii.Error, ValueError):
            raise UpstreamError(FailureKind.TRANSIENT, "Veo returned video bytes that are not base64") from None
        return VideoResult(data=data, mime_type=mime_type, extra=extra)
    url = video.uri or video.gcs_uri
    if not url:
        raise UpstreamError(FailureKind.TRANSIENT, "Veo returned a video without a location")
    return VideoResult(url=url, mime_type=mime_type, extra=extra)


# ---------------------------------------------------------------- errors


def parse_error(body: Any) -> RpcStatus:
    """The ``error`` of a Google error body (or the body itself), leniently."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            try:
                return _converter.structure(dict(inner), RpcStatus)
            except (cattrs.BaseValidationError, TypeError, ValueError):
                pass
    return RpcStatus()


def error_reasons(status: RpcStatus) -> set[str]:
    """The ``reason`` of each ``google.rpc.ErrorInfo`` in the details."""
    return {
        str(detail.get("reason"))
        for detail in status.details
        if isinstance(detail, Mapping) and detail.get("reason") is not None
    }


def upstream_error(
    http_status: int,
    body: Any,
    *,
    model: str | None = None,
    polling: bool = False,
    retry_after: float | None = None,
) -> UpstreamError:
    """Map a Google HTTP error to whose fault it is.

    :param model: the upstream model asked for (at submission), named when
        Google does not know it.
    :param polling: the call was a status poll, where a 404 means the
        operation is gone rather than the model unknown.
    """
    status = parse_error(body)
    message = status.message or f"Veo answered HTTP {http_status}"
    reasons = error_reasons(status)
    canonical = status.status.upper()

    def fail(kind: FailureKind, code: str | None = None, text: str = message) -> UpstreamError:
        return UpstreamError(kind, text, code=code, http_status=http_status, retry_after=retry_after)

    if reasons & {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_EXPIRED"}:
        return fail(FailureKind.CHANNEL, "channel_auth", f"Google rejected the channel's API key: {message}")
    if http_status in (401, 403) or canonical in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return fail(FailureKind.CHANNEL, "channel_auth", f"Google refused the channel's credentials: {message}")
    if http_status == 404:
        if polling:
            return fail(FailureKind.NOT_FOUND, "upstream_not_found", f"Veo no longer knows this operation: {message}")
        name = model or "the model"
        return fail(
            FailureKind.CALLER, "model_not_found", f"Veo model {name!r} was not found on this channel: {message}"
        )
    if http_status == 429 or canonical == "RESOURCE_EXHAUSTED":
        return fail(FailureKind.RATE_LIMITED, "rate_limited", f"Veo quota or rate limit reached: {message}")
    if http_status >= 500:
        return fail(FailureKind.TRANSIENT, "upstream_unavailable", f"Veo is unavailable: {message}")
    if canonical == "FAILED_PRECONDITION":  # region not served, billing not enabled: the account's problem
        return fail(FailureKind.CHANNEL, "channel_unavailable", f"Google refused this channel: {message}")
    if _CONTENT_POLICY_MESSAGE.search(message):
        return fail(FailureKind.CONTENT_POLICY, "content_policy_violation")
    return fail(FailureKind.CALLER, "invalid_request")
