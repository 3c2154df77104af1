"""An emulator of Ark's content-generation tasks: a real aiohttp application.

It speaks what the plugin relies on, as Volcengine and BytePlus document it:
``Authorization: Bearer`` checked (401 ``AuthenticationError``), the catalogue
of the region in ``settings.options["region"]`` (404
``InvalidEndpointOrModel.NotFound`` for other ids), strict body validation
(400 ``InvalidParameter`` naming the field: roles, mixed frame and reference
modes, resolution, ratio, duration per model, unknown fields), tasks going
``queued`` -> ``running`` -> ``succeeded`` over ``settings.generation_seconds``,
DELETE that cancels a queued task and refuses a running one (409), and the
``{"error": {code, message, param, type}}`` shape with a request id. The video
URL points at the emulator itself, like Ark's pre-signed TOS links; the video
is a clip of the task's duration and ratio (``settings.video_for``; 16:9 when
the ratio is absent or ``adaptive``).

A body with ``callback_url`` gets the task object (as GET answers it)
posted there, as Ark does, when the task is queued, when it starts running
and when it succeeds or fails; the last is posted again up to 3 times while
not answered 200 (``state.callbacks.sent`` records every post). A cancelled
or deleted task calls back no more.

Markers in the prompt (:class:`reelay.emulation.Scenario`): ``reject`` -> 400
``InputTextSensitiveContentDetected``; ``invalid`` -> 400 ``InvalidParameter``;
``fail`` -> failed with ``InternalServiceError``; ``block`` -> failed with
``OutputVideoSensitiveContentDetected``. The first ``settings.fail_submissions``
submissions answer 500 ``InternalServiceError``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
from aiohttp import web

from reelay.emulation import (
    CallbackSender,
    EmulatedJob,
    EmulatorRefusal,
    EmulatorSettings,
    EmulatorState,
    JobPhase,
    Scenario,
    is_http_url,
    json_object,
    refusals,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .models import BY_NAME, RATIOS, Region, SeedanceModel

DEMO_CREDENTIALS: Mapping[str, str] = {"api_key": "ark-demo-key"}

BODY_FIELDS = frozenset(
    {
        "model",
        "content",
        "resolution",
        "ratio",
        "duration",
        "frames",
        "seed",
        "camera_fixed",
        "watermark",
        "generate_audio",
        "draft",
        "return_last_frame",
        "service_tier",
        "execution_expires_after",
        "callback_url",
        "priority",
        "safety_identifier",
        "tools",
        "output_format",
    }
)
_TYPES = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 409: "Conflict", 500: "InternalServerError"}
_DATA_IMAGE = re.compile(r"^data:image/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+$")


class ArkFault(EmulatorRefusal):
    """Ark's ``{"error": {code, message, param, type}}``, with a request id in the message and a header."""

    def __init__(self, status: int, code: str, message: str, param: str = ""):
        request_id = uuid.uuid4().hex
        error = {"code": code, "message": f"{message} Request id: {request_id}", "param": param}
        error["type"] = _TYPES.get(status, "BadRequest")
        super().__init__(status, {"error": error}, headers={"x-request-id": request_id})


def _invalid(param: str, reason: str) -> ArkFault:
    return ArkFault(
        400, "InvalidParameter", f"The parameter `{param}` specified in the request is not valid: {reason}", param
    )


#: The statuses Ark calls back on (``cancelled`` is not one of them).
CALLBACK_STATUSES = frozenset({"queued", "running", "succeeded", "failed", "expired"})
#: Seconds between the posts of a final callback. Ark documents 3 retries, not their spacing.
CALLBACK_RETRY_SECONDS = 1.0


def _ark_callbacks() -> CallbackSender:
    """Ark's callbacks: at creation (queued), at the start (running) and the end; only the final
    ``succeeded``/``failed`` post is retried, 3 times, when not acknowledged within 5 s."""
    return CallbackSender(
        status_key="status",
        moments=(0.0, 0.1, 1.0),
        retries=3,
        retry_delay=CALLBACK_RETRY_SECONDS,
        timeout=5.0,
        retried=frozenset({"succeeded", "failed"}),
    )


@attrs.define
class ArkState(EmulatorState):
    queries: int = 0  # GET of one task answered (the gateway's polls)
    callbacks: CallbackSender = attrs.field(factory=_ark_callbacks)

    @property
    def region(self) -> Region:
        return Region(self.settings.options.get("region", Region.CN.value))


STATE = web.AppKey("seedance_state", ArkState)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    app = web.Application(middlewares=[refusals])
    app[STATE] = ArkState(settings)
    tasks = "/api/v3/contents/generations/tasks"
    app.router.add_post(tasks, _create)
    app.router.add_get(tasks + "/{id}", _get)
    app.router.add_delete(tasks + "/{id}", _delete)
    app.router.add_get("/tos/{id}.mp4", _video)
    app.on_cleanup.append(app[STATE].callbacks.stop)
    return app


def _authorized(request: web.Request) -> ArkState:
    state = request.app[STATE]
    expected = state.settings.credentials.get("api_key", DEMO_CREDENTIALS["api_key"])
    if request.headers.get("Authorization") != f"Bearer {expected}":
        raise ArkFault(401, "AuthenticationError", "The API key or AK/SK in the request is missing or invalid.")
    return state


# ---------------------------------------------------------------- create


async def _create(request: web.Request) -> web.Response:
    state = _authorized(request)
    if state.submission_fails():
        raise ArkFault(500, "InternalServiceError", "The service encountered an unexpected internal error.")
    body = await json_object(
        request,
        not_json=ArkFault(400, "InvalidParameter", "The request body is not valid JSON."),
        not_object=ArkFault(400, "InvalidParameter", "The request body must be a JSON object."),
    )
    model = _model(body.get("model"), state.region)
    prompt = _validate(body, model)
    scenario = scenario_for(prompt)
    if scenario is Scenario.REJECT:
        raise ArkFault(
            400,
            "InputTextSensitiveContentDetected",
            "The request failed because the input text may contain sensitive information.",
        )
    if scenario is Scenario.INVALID:
        raise _invalid("content", "refused by the emulator scenario")
    task_id = f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)[:5]}"
    fields = {"model": model.name, "duration": body.get("duration", 5), "ratio": body.get("ratio"), "body": body}
    job = state.jobs[task_id] = EmulatedJob(task_id, state.settings.generation_seconds, scenario, data=fields)
    if "callback_url" in body:
        origin = _origin(request)
        state.callbacks.start(job, body["callback_url"], lambda: _callback(state, job, origin))
    return web.json_response({"id": task_id})


def _model(name: Any, region: Region) -> SeedanceModel:
    model = BY_NAME.get(name) if isinstance(name, str) else None
    if model is None or model.region is not region:
        raise ArkFault(
            404,
            "InvalidEndpointOrModel.NotFound",
            f"The model or endpoint {name} does not exist or you do not have access to it.",
            "model",
        )
    return model


def _validate(body: Mapping[str, Any], model: SeedanceModel) -> str | None:
    """The prompt of a valid body, or the 400 Ark answers."""
    unknown = sorted(set(body) - BODY_FIELDS)
    if unknown:
        raise _invalid(unknown[0], "unknown field")
    if "callback_url" in body and not is_http_url(body["callback_url"]):
        raise _invalid("callback_url", "must be an http(s) URL")
    content = body.get("content")
    if not isinstance(content, list) or not content:
        raise ArkFault(
            400,
            "MissingParameter",
            "The request failed because it is missing one or multiple required parameters.",
            "content",
        )
    texts = [item.get("text") for item in content if isinstance(item, dict) and item.get("type") == "text"]
    images = [item for item in content if isinstance(item, dict) and item.get("type") == "image_url"]
    if len(texts) + len(images) != len(content):
        raise _invalid("content", "items must be text or image_url")
    roles = [image.get("role") for image in images]
    _check_images(images, roles, model)
    caps = model.spec.capabilities
    if not images and not caps.text_to_video:
        raise _invalid("content", f"{model.name} needs an image")
    if not texts and not images:
        raise _invalid("content", "a text prompt is required")
    _check_output(body, model, bool(images))
    return texts[0] if texts else None


def _check_images(images: list[dict[str, Any]], roles: list[Any], model: SeedanceModel) -> None:
    caps = model.spec.capabilities
    if images and not caps.image_to_video and not caps.max_reference_images:
        raise _invalid("content", f"{model.name} is text-to-video only")
    for image in images:
        url = (image.get("image_url") or {}).get("url")
        if not isinstance(url, str) or not (
            url.startswith(("https://", "http://", "asset://")) or _DATA_IMAGE.match(url)
        ):
            raise _invalid("content.image_url.url", "must be a URL or data:image/<format>;base64,<data>")
    if len(images) > 1 and None in roles:
        raise _invalid("content.role", "role must be specified for image contents")
    frames = [role for role in roles if role in (None, "first_frame", "last_frame")]
    references = [role for role in roles if role == "reference_image"]
    if len(frames) + len(references) != len(roles):
        raise _invalid("content.role", "role must be first_frame, last_frame or reference_image")
    if frames and references:
        raise _invalid("content.role", "first/last frame content cannot be mixed with reference media content")
    if "last_frame" in roles and ("first_frame" not in roles or not caps.end_frame):
        raise _invalid("content.role", f"{model.name} takes last_frame only together with first_frame")
    if len(references) > caps.max_reference_images:
        raise _invalid("content.role", f"{model.name} takes at most {caps.max_reference_images} reference images")


def _check_output(body: Mapping[str, Any], model: SeedanceModel, with_images: bool) -> None:
    resolution = body.get("resolution", model.default_resolution)
    if resolution not in model.resolutions:
        raise _invalid("resolution", f"allowed values: {', '.join(model.resolutions)}")
    ratios = (*RATIOS, "adaptive")
    if not with_images and not model.adaptive_t2v:
        ratios = RATIOS
    if with_images and model.adaptive_only_i2v:
        ratios = ("adaptive",)
    if body.get("ratio", ratios[-1]) not in ratios:
        raise _invalid("ratio", f"allowed values: {', '.join(ratios)}")
    duration = body.get("duration", 5)
    if isinstance(duration, bool) or duration not in model.spec.durations:
        raise _invalid(
            "duration", f"{model.name} takes {model.spec.durations[0]} to {model.spec.durations[-1]} seconds"
        )


# ---------------------------------------------------------------- tasks


def _job(state: ArkState, request: web.Request) -> EmulatedJob:
    job = state.jobs.get(request.match_info["id"])
    if job is None:
        raise ArkFault(404, "ResourceNotFound", f"The specified task {request.match_info['id']} is not found.", "id")
    return job


def _status(job: EmulatedJob) -> str:
    if job.cancelled:
        return "cancelled"
    phase = job.phase()
    if phase is JobPhase.QUEUED:
        return "queued"
    if phase is JobPhase.RUNNING:
        return "running"
    return "succeeded" if job.succeeds else "failed"


async def _get(request: web.Request) -> web.Response:
    state = _authorized(request)
    job = _job(state, request)
    state.queries += 1
    return web.json_response(_task_object(job, _origin(request)))


def _callback(state: ArkState, job: EmulatedJob, origin: str) -> dict[str, Any] | None:
    """The body of a callback about ``job`` now: the task object GET answers; None once deleted or cancelled."""
    if job.id not in state.jobs or _status(job) not in CALLBACK_STATUSES:
        return None
    return _task_object(job, origin)


def _task_object(job: EmulatedJob, origin: str) -> dict[str, Any]:
    status = _status(job)
    created = int(job.created)
    task: dict[str, Any] = {"id": job.id, "model": job.data["model"], "status": status}
    task.update(created_at=created, updated_at=int(time.time()), service_tier="default", execution_expires_after=172800)
    if status == "succeeded":
        expires = "X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Expires=86400"
        task["content"] = {"video_url": f"{origin}/tos/{job.id}.mp4?{expires}"}
        task.update(duration=job.data["duration"], ratio=job.data["ratio"] or "16:9", resolution="720p", seed=42)
        task["framespersecond"] = 24
        task["usage"] = {"completion_tokens": 108900, "total_tokens": 108900}
    elif status == "failed":
        blocked = job.scenario is Scenario.BLOCK
        code = "OutputVideoSensitiveContentDetected" if blocked else "InternalServiceError"
        message = (
            "The request failed because the output video may contain sensitive information."
            if blocked
            else "The service encountered an unexpected internal error."
        )
        task["error"] = {"code": code, "message": message}
    return task


async def _delete(request: web.Request) -> web.Response:
    state = _authorized(request)
    job = _job(state, request)
    status = _status(job)
    if status == "queued":
        job.cancelled = True
    elif status in ("running", "cancelled"):
        raise ArkFault(
            409, "InvalidAction.RunningTaskDeletion", f"Cannot delete task because it is currently {status}.", "id"
        )
    else:
        del state.jobs[job.id]
    return web.json_response({})


async def _video(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job = state.finished_job(request.match_info["id"])
    ratio = job.data["ratio"]
    if ratio in (None, "adaptive"):  # the emulator reports 16:9 for these
        ratio = "16:9"
    return bytes_response(request, state.settings.video_for(job.data["duration"], ratio), "video/mp4")


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
