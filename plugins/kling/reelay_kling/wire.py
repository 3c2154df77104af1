"""Kling's wire format: request bodies out, envelopes in, failures mapped.

Everything that knows Kling's JSON lives here. Responses are read through a
private cattrs converter into small attrs classes; Kling adds fields over
time, so unknown keys are ignored on purpose. The domain objects the core
sees (:class:`reelay.StatusUpdate`, :class:`reelay.VendorRef`...) stay
JSON-free.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from attrs import frozen

from reelay import (
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    StatusTable,
    StatusUpdate,
    Task,
    TaskError,
    TaskStatus,
    UpstreamError,
    ValueNotAllowed,
    VideoResult,
    failure_for_http_status,
)
from reelay.upstream import parse_answer, vendor_error

from .models import CFG_SCALE_MODELS, KlingModel

MAX_PROMPT = 2500
MAX_DYNAMIC_MASKS = 6
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
SOUND_VALUES = ("on", "off")

_DATA_URI_PREFIX = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)
_CONTENT_POLICY_MESSAGE = re.compile(
    r"risk|content (security|policy|moderation)|security polic|sensitive|inappropriate|violat|风控|敏感|审核",
    re.IGNORECASE,
)


class Family(enum.StrEnum):
    """Kling's endpoint families; a task lives on the family it was created on."""

    TEXT2VIDEO = "text2video"
    IMAGE2VIDEO = "image2video"
    VIDEO_EXTEND = "video-extend"  # extensions of a Kling video (``video_id``)

    @property
    def path(self) -> str:
        return f"/v1/videos/{self.value}"


# ---------------------------------------------------------------- requests


@frozen
class KlingPayload:
    """What ``reelay_build_payload`` hands to ``reelay_submit``."""

    family: Family
    body: Mapping[str, Any] = attrs.field(repr=False)


def raw_image(image: ImageInput) -> str:
    """An image as Kling takes it: a URL, or raw base64 without a ``data:`` prefix."""
    if image.url is not None:
        return strip_data_uri(image.url)
    assert image.base64 is not None
    return strip_data_uri(image.base64)


def strip_data_uri(text: str) -> str:
    match = _DATA_URI_PREFIX.match(text)
    return text[match.end() :] if match else text


def build_payload(request: GenerationRequest, model: KlingModel, upstream_model: str) -> KlingPayload:
    """The Kling request for ``request``; raises :class:`InvalidRequest` for what the model cannot serve.

    ``request`` has been normalized by the core: duration snapped to 5 or 10,
    size mapped to an aspect ratio (text-to-video only), images placed as
    first and last frame, metadata reduced to Kling's documented keys.
    """
    family = Family.IMAGE2VIDEO if request.is_image_to_video else Family.TEXT2VIDEO
    if request.prompt is not None and len(request.prompt) > MAX_PROMPT:
        raise InvalidRequest(f"prompt is longer than Kling's {MAX_PROMPT} characters", param="prompt")
    extra = _checked_metadata(request, model, family)

    body: dict[str, Any] = {"model_name": upstream_model}
    if request.prompt is not None:
        body["prompt"] = request.prompt
    if request.duration is not None:
        body["duration"] = str(request.duration)
    if family is Family.TEXT2VIDEO:
        if request.size is not None:
            body["aspect_ratio"] = request.size
    else:
        if request.first_frame is not None:
            body["image"] = raw_image(request.first_frame)
        if request.last_frame is not None:
            body["image_tail"] = raw_image(request.last_frame)
    if request.callback_url is not None:  # the gateway's own, ahead of a caller's metadata.callback_url
        body["callback_url"] = request.callback_url
    for key, value in extra.items():
        body.setdefault(key, value)
    if request.public_id:
        body["external_task_id"] = request.public_id
    return KlingPayload(family=family, body=body)


def extend_body(
    video_id: str,
    prompt: str | None,
    *,
    negative_prompt: str | None = None,
    cfg_scale: float | None = None,
    callback_url: str | None = None,
) -> dict[str, Any]:
    """The body of ``POST /v1/videos/video-extend``: Kling's documented fields only.

    The model, mode and length are not sent: Kling takes the source's model
    and mode and adds 4 to 5 seconds. Raises :class:`InvalidRequest` for a
    prompt or negative prompt over Kling's 2500 characters.
    """
    for name, text in (("prompt", prompt), ("negative_prompt", negative_prompt)):
        if text is not None and len(text) > MAX_PROMPT:
            raise InvalidRequest(f"{name} is longer than Kling's {MAX_PROMPT} characters", param=name)
    if cfg_scale is not None and not 0 <= cfg_scale <= 1:
        raise InvalidRequest(f"cfg_scale must be a number from 0 to 1, got {cfg_scale!r}", param="cfg_scale")
    body: dict[str, Any] = {"video_id": video_id}
    optional = {
        "prompt": prompt or None,
        "negative_prompt": negative_prompt or None,
        "cfg_scale": cfg_scale,
        "callback_url": callback_url,
    }
    body.update((key, value) for key, value in optional.items() if value is not None)
    return body


def _checked_metadata(request: GenerationRequest, model: KlingModel, family: Family) -> dict[str, Any]:
    extra = dict(request.extra)
    name = model.name

    if "negative_prompt" in extra:
        value = extra["negative_prompt"]
        if not isinstance(value, str) or len(value) > MAX_PROMPT:
            raise InvalidRequest(
                f"metadata.negative_prompt must be text of at most {MAX_PROMPT} characters",
                param="metadata.negative_prompt",
            )

    if "cfg_scale" in extra:
        value = extra["cfg_scale"]
        if not model.cfg_scale:
            raise InvalidRequest(
                f"metadata.cfg_scale is not supported by {name} (Kling v2.x models take none);"
                f" models that accept it: {', '.join(CFG_SCALE_MODELS)}",
                param="metadata.cfg_scale",
                code="unsupported_parameter",
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InvalidRequest(
                f"metadata.cfg_scale must be a number from 0 to 1, got {value!r}", param="metadata.cfg_scale"
            )

    mode = extra.get("mode")
    if "mode" in extra and mode not in model.modes:
        raise ValueNotAllowed("metadata.mode", mode, model.modes, name)

    if "sound" in extra:
        value = extra["sound"]
        if not model.sound:
            raise InvalidRequest(
                f"metadata.sound is not supported by {name}", param="metadata.sound", code="unsupported_parameter"
            )
        if value not in SOUND_VALUES:
            raise ValueNotAllowed("metadata.sound", value, SOUND_VALUES, name)
        if value == "on" and (mode or "std") not in model.sound_modes:
            raise InvalidRequest(
                f"metadata.sound 'on' needs metadata.mode {' or '.join(map(repr, model.sound_modes))} on {name}",
                param="metadata.sound",
            )

    if "callback_url" in extra:
        value = extra["callback_url"]
        if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
            raise InvalidRequest("metadata.callback_url must be an http(s) URL", param="metadata.callback_url")

    if "camera_control" in extra:
        _check_camera_control(extra["camera_control"])

    for key in ("static_mask", "dynamic_masks"):
        if key in extra and family is Family.TEXT2VIDEO:
            raise InvalidRequest(
                f"metadata.{key} (motion brush) needs an input image: it is image-to-video only",
                param=f"metadata.{key}",
            )
    if "static_mask" in extra:
        value = extra["static_mask"]
        if not isinstance(value, str) or not value:
            raise InvalidRequest("metadata.static_mask must be an image URL or base64", param="metadata.static_mask")
        extra["static_mask"] = strip_data_uri(value)
    if "dynamic_masks" in extra:
        extra["dynamic_masks"] = _checked_dynamic_masks(extra["dynamic_masks"])

    if family is Family.IMAGE2VIDEO:
        # Kling: start+end frames, motion brush and camera control exclude each other.
        groups = [
            ("images", request.last_frame is not None),
            ("metadata.static_mask" if "static_mask" in extra else "metadata.dynamic_masks", _has_masks(extra)),
            ("metadata.camera_control", "camera_control" in extra),
        ]
        present = [param for param, used in groups if used]
        if len(present) > 1:
            raise InvalidRequest(
                "Kling takes only one of: an end frame (a second image), motion brush"
                " (static_mask/dynamic_masks) or camera_control; got " + " and ".join(present),
                param=present[1],
            )
    return extra


def _has_masks(extra: Mapping[str, Any]) -> bool:
    return "static_mask" in extra or "dynamic_masks" in extra


def _check_camera_control(value: Any) -> None:
    param = "metadata.camera_control"
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{param} must be an object {{type, config}}", param=param)
    kind = value.get("type")
    if kind not in CAMERA_TYPES:
        raise ValueNotAllowed(f"{param}.type", kind, CAMERA_TYPES, "Kling")
    config = value.get("config")
    if kind == "simple":
        if not isinstance(config, Mapping):
            raise InvalidRequest(f"{param}.config is required for type 'simple'", param=f"{param}.config")
        unknown = sorted(set(config) - set(CAMERA_AXES))
        if unknown:
            raise ValueNotAllowed(f"{param}.config", unknown[0], CAMERA_AXES, "Kling")
        moving = [axis for axis in CAMERA_AXES if config.get(axis)]
        if len(moving) != 1:
            raise InvalidRequest(
                f"{param}.config must move exactly one of {', '.join(CAMERA_AXES)} (values from -10 to 10)",
                param=f"{param}.config",
            )
        for axis in CAMERA_AXES:
            number = config.get(axis, 0)
            if isinstance(number, bool) or not isinstance(number, int | float) or not -10 <= number <= 10:
                raise InvalidRequest(f"{param}.config.{axis} must be a number from -10 to 10", param=param)
    elif config is not None:
        raise InvalidRequest(f"{param}.config must be left out for type {kind!r}", param=f"{param}.config")


def _checked_dynamic_masks(value: Any) -> list[dict[str, Any]]:
    param = "metadata.dynamic_masks"
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DYNAMIC_MASKS:
        raise InvalidRequest(f"{param} must be a list of 1 to {MAX_DYNAMIC_MASKS} masks", param=param)
    masks = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("mask"), str):
            raise InvalidRequest(f"{param}[{index}] must be {{mask, trajectories}}", param=f"{param}[{index}]")
        trajectories = item.get("trajectories")
        if not isinstance(trajectories, list) or not all(
            isinstance(point, Mapping) and isinstance(point.get("x"), int) and isinstance(point.get("y"), int)
            for point in trajectories
        ):
            raise InvalidRequest(
                f"{param}[{index}].trajectories must be a list of {{x, y}} integer points",
                param=f"{param}[{index}].trajectories",
            )
        masks.append({**item, "mask": strip_data_uri(item["mask"])})
    return masks


# ---------------------------------------------------------------- responses


@frozen
class Video:
    id: str = ""
    url: str = ""
    duration: str | None = None


@frozen
class TaskResult:
    videos: tuple[Video, ...] = ()


@frozen
class TaskInfo:
    external_task_id: str | None = None


@frozen
class TaskData:
    """Kling's task object (``data`` of a create or query answer, or a callback body)."""

    task_id: str
    task_status: str = ""
    task_status_msg: str | None = None
    task_info: TaskInfo | None = None
    task_result: TaskResult | None = None
    created_at: int | None = None
    updated_at: int | None = None
    final_unit_deduction: str | None = None


@frozen
class Envelope:
    """Every Kling answer: ``{code, message, request_id, data}``; code 0 is success."""

    code: int
    message: str = ""
    request_id: str = ""
    data: Any = None


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)

    def text(value: Any, _: type) -> str:
        # Kling sends ids and durations as strings, but tolerate numbers.
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise TypeError(f"expected text, got {type(value).__name__}")

    def optional_text(value: Any, _: type) -> str | None:
        return None if value is None else text(value, str)

    converter.register_structure_hook(str, text)
    converter.register_structure_hook(str | None, optional_text)
    return converter


_converter = _make_converter()


def parse_envelope(body: Any) -> Envelope:
    return parse_answer(body, Envelope, _converter, vendor="Kling", what="an envelope")


def parse_task(data: Any) -> TaskData:
    """Read a task object; ``data`` may also be a whole envelope or a one-item list."""
    if isinstance(data, Mapping) and "data" in data and "task_id" not in data:
        data = data["data"]
    if isinstance(data, list) and data:
        data = data[0]
    return parse_answer(data, TaskData, _converter, vendor="Kling", what="a task object")


# ---------------------------------------------------------------- failures

_CALLER = range(1200, 1204)
_CONTENT_POLICY = (1300, 1301)
_CHANNEL = (*range(1000, 1005), *range(1100, 1104), 1304)
_RATE_LIMITED = (1302, 1303)
_TRANSIENT = range(5000, 5003)


def failure_kind(http_status: int, code: int | None) -> FailureKind:
    """Whose fault a Kling error is, from its envelope code (then its HTTP status)."""
    if code in _CALLER:
        return FailureKind.CALLER
    if code in _CONTENT_POLICY:
        return FailureKind.CONTENT_POLICY
    if code in _CHANNEL:
        return FailureKind.CHANNEL
    if code in _RATE_LIMITED:
        return FailureKind.RATE_LIMITED
    if code in _TRANSIENT:
        return FailureKind.TRANSIENT
    return failure_for_http_status(http_status)


def upstream_error(
    http_status: int, body: Any, *, retry_after: float | None = None, lookup: bool = False
) -> UpstreamError:
    """The :class:`UpstreamError` for a Kling answer that is not a success.

    :param lookup: the request was a task query, where "invalid parameter" and
        "resource does not exist" mean Kling does not know the task.
    """
    code = body.get("code") if isinstance(body, Mapping) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = body.get("message") if isinstance(body, Mapping) else None
    request_id = body.get("request_id") if isinstance(body, Mapping) else None
    kind = failure_kind(http_status, code)
    if lookup and (kind is FailureKind.CALLER or http_status == 404):
        kind = FailureKind.NOT_FOUND
    if kind is FailureKind.RATE_LIMITED and retry_after is None:
        retry_after = 1.0  # Kling: back off exponentially from at least 1 s
    return vendor_error(
        "Kling",
        http_status,
        kind,
        code=code,
        message=message[:300] if isinstance(message, str) else None,
        request_id=request_id if isinstance(request_id, str) else None,
        retry_after=retry_after,
    )


# ---------------------------------------------------------------- statuses

#: Every ``task_status`` Kling documents.
STATUSES = StatusTable(
    "Kling",
    {
        "submitted": TaskStatus.QUEUED,
        "processing": TaskStatus.IN_PROGRESS,
        "succeed": TaskStatus.COMPLETED,
        "failed": TaskStatus.FAILED,
    },
    field="task_status",
)


def map_status(payload: Any) -> StatusUpdate:
    """Kling's task state as a :class:`StatusUpdate`.

    ``submitted`` is queued, ``processing`` in progress, ``succeed`` completed
    with ``task_result.videos[0]``, ``failed`` failed with Kling's
    ``task_status_msg``. Kling reports no progress, so the core estimates it.
    """
    task = parse_task(payload)
    status = STATUSES.read(task.task_status)
    if status is TaskStatus.FAILED:
        return StatusUpdate(TaskStatus.FAILED, error=task_error(task.task_status_msg))
    if status is TaskStatus.COMPLETED:
        videos = task.task_result.videos if task.task_result else ()
        if not videos or not videos[0].url:
            return StatusUpdate(
                TaskStatus.FAILED, error=TaskError("generation_failed", "Kling reported success but sent no video")
            )
        video = videos[0]
        extra = {
            "kling_task_id": task.task_id,
            "kling_video_id": video.id,
            "final_unit_deduction": task.final_unit_deduction,
        }
        result = VideoResult(
            url=video.url,
            duration=_seconds(video.duration),
            extra={key: value for key, value in extra.items() if value},
        )
        return StatusUpdate(TaskStatus.COMPLETED, progress=100, result=result)
    return StatusUpdate(status)


def task_error(message: str | None) -> TaskError:
    text = message or "Kling reported the generation failed without a reason"
    if message and _CONTENT_POLICY_MESSAGE.search(message):
        return TaskError("content_policy_violation", text)
    return TaskError("generation_failed", text)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# ---------------------------------------------------------------- callbacks


def parse_callback(body: bytes, task: Task) -> StatusUpdate | None:
    """A Kling callback (the task object, as a query's ``data``) about ``task``, as a status update.

    Kling does not sign callbacks: the URL's token is the credential, and the
    body must name this task (Kling's ``task_id`` as recorded, else our
    ``external_task_id``). None for anything else: it changes nothing.
    """
    try:
        data = json.loads(body)
        parsed = parse_task(data)
        update = map_status(data)
    except (ValueError, UpstreamError):
        return None
    external = parsed.task_info.external_task_id if parsed.task_info else None
    if task.vendor_ref is not None:
        if parsed.task_id != task.vendor_ref.id:
            return None
    elif external != task.id:
        return None
    if external is not None and external != task.id:
        return None
    return update
