"""An emulator of Kling's video API: a real aiohttp application.

It speaks what the plugin relies on, as Kling documents it: JWT auth checked
against the configured keys (401 with codes 1000-1004), the
``{code, message, request_id, data}`` envelope, 1201 refusals for bad input,
tasks going ``submitted`` -> ``processing`` -> ``succeed`` over
``settings.generation_seconds``, lookup by ``task_id`` or ``external_task_id``,
list queries, times in milliseconds and ``final_unit_deduction``. The result
URL points at the emulator itself (``/cdn/videos/<task_id>.mp4``, built from
the request's host), served with ``Range`` support and no auth, like Kling's
CDN.

Failures are injected with markers in the prompt (see
:class:`reelay.emulation.Scenario`): ``[emulate:reject]`` -> 400 code 1301,
``[emulate:invalid]`` -> 400 code 1201, ``[emulate:fail]`` -> task failed,
``[emulate:block]`` -> task failed by risk control; the first
``settings.fail_submissions`` submissions answer 500 code 5000.

A request with ``callback_url`` gets the task object posted there when the
task starts and when it ends, as Kling does, without retries
(``state.callbacks.sent`` records them).

``POST /v1/videos/video-extend`` extends a finished video by its ``video_id``
(5 seconds, with the source's model and mode), refusing with 1201 what Kling
refuses: an unknown ``video_id``, a video of another account, a model whose
videos cannot be extended, more than 3 minutes in all, a video older than 30
days, a prompt over 2500 characters, fields the endpoint does not document.
Other accounts the emulated Kling knows are ``settings.options["accounts"]``
(access key -> secret key), next to the configured credentials.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from reelay.emulation import (
    CallbackSender,
    EmulatedJob,
    EmulatorSettings,
    JobPhase,
    Scenario,
    is_http_url,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .auth import decode_token, pyjwt
from .models import (
    ASPECT_RATIOS,
    BY_NAME,
    CFG_SCALE_MODELS,
    EXTEND_MODELS,
    EXTENSION_SECONDS,
    IMAGE2VIDEO_MODELS,
    MAX_EXTENDED_SECONDS,
    MODES,
    RETENTION_DAYS,
    TEXT2VIDEO_MODELS,
)
from .wire import CAMERA_TYPES, MAX_PROMPT, Family

DEMO_CREDENTIALS: Mapping[str, str] = {"access_key": "demo-ak", "secret_key": "demo-sk"}

FAILED_MESSAGE = "Video generation failed, please try again later"
BLOCKED_MESSAGE = "Failure to pass the risk control system"

_FAMILY_MODELS = {Family.TEXT2VIDEO: TEXT2VIDEO_MODELS, Family.IMAGE2VIDEO: IMAGE2VIDEO_MODELS}
_DURATIONS = ("5", "10")
#: The fields ``POST /v1/videos/video-extend`` documents.
_EXTEND_FIELDS = ("video_id", "prompt", "negative_prompt", "cfg_scale", "callback_url")
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s_-]+$")


class KlingFault(Exception):
    """An error answer in Kling's shape."""

    def __init__(self, http_status: int, code: int, message: str):
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message


@attrs.define
class EmulatorState:
    settings: EmulatorSettings
    jobs: dict[str, EmulatedJob] = attrs.field(factory=dict)
    external_ids: dict[str, str] = attrs.field(factory=dict)
    submissions: int = 0
    queries: int = 0  # task queries answered (the gateway's polls)
    #: Kling posts the task object when a task starts and when it ends; it does not retry.
    callbacks: CallbackSender = attrs.field(factory=lambda: CallbackSender(status_key="task_status"))

    def keys(self) -> tuple[str, str]:
        credentials = self.settings.credentials or DEMO_CREDENTIALS
        return credentials.get("access_key", ""), credentials.get("secret_key", "")

    def other_accounts(self) -> Mapping[str, str]:
        """Access key -> secret key of the other accounts this Kling knows."""
        return self.settings.options.get("accounts") or {}


STATE = web.AppKey("kling_state", EmulatorState)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    app = web.Application(middlewares=[_kling_errors])
    app[STATE] = EmulatorState(settings)
    for family in Family:
        app.router.add_post(family.path, _extend if family is Family.VIDEO_EXTEND else _create_handler(family))
        app.router.add_get(family.path, _list_handler(family))
        app.router.add_get(family.path + "/{task_id}", _query_handler(family))
    app.router.add_get("/cdn/videos/{name}", _video)
    app.on_cleanup.append(app[STATE].callbacks.stop)
    return app


# ---------------------------------------------------------------- plumbing


def _envelope(data: Any, *, status: int = 200, code: int = 0, message: str = "SUCCEED") -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": str(uuid.uuid4())}
    if data is not None:
        body["data"] = data
    return web.json_response(body, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _kling_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except KlingFault as fault:
        return _envelope(None, status=fault.http_status, code=fault.code, message=fault.message)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        if request.path.startswith("/v1/"):
            return _envelope(None, status=404, code=1202, message="Invalid request method or path")
        raise


def _authenticate(request: web.Request) -> EmulatorState:
    state = request.app[STATE]
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise KlingFault(401, 1001, "Authorization is empty")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token.strip() or " " in token.strip():
        raise KlingFault(401, 1002, "Authorization is invalid")
    access_key, secret_key = state.keys()
    jwt = pyjwt()
    issuer = _account(token.strip())
    if issuer in state.other_accounts():
        access_key, secret_key = issuer, state.other_accounts()[issuer]
    try:
        claims = decode_token(token.strip(), secret_key)
    except jwt.ExpiredSignatureError:
        raise KlingFault(401, 1004, "Authorization token has expired") from None
    except jwt.ImmatureSignatureError:
        raise KlingFault(401, 1003, "Authorization token is not yet valid") from None
    except jwt.InvalidSignatureError:
        raise KlingFault(401, 1000, "Authentication failed") from None
    except jwt.InvalidTokenError:
        raise KlingFault(401, 1002, "Authorization is invalid") from None
    if claims.get("iss") != access_key:
        raise KlingFault(401, 1000, "Authentication failed")
    return state


def _account(token: str) -> str | None:
    """The token's issuer (the account's access key), read without verifying it."""
    try:
        issuer = pyjwt().decode(token, options={"verify_signature": False}).get("iss")
    except pyjwt().InvalidTokenError:
        return None
    return issuer if isinstance(issuer, str) else None


def _caller(request: web.Request) -> str | None:
    """The account of an authenticated request."""
    return _account(request.headers["Authorization"].partition(" ")[2].strip())


def _invalid(message: str) -> KlingFault:
    return KlingFault(400, 1201, message)


# ---------------------------------------------------------------- create


def _create_handler(family: Family) -> Handler:
    async def create(request: web.Request) -> web.Response:
        state, body = await _submission(request)
        fields = _validate(family, body, state)
        return _accept(request, state, body, {**fields, "account": _caller(request)})

    return create


async def _submission(request: web.Request) -> tuple[EmulatorState, dict[str, Any]]:
    """Authenticate a create request, count it (the first ``fail_submissions`` fail) and read its body."""
    state = _authenticate(request)
    state.submissions += 1
    if state.submissions <= state.settings.fail_submissions:
        raise KlingFault(500, 5000, "Internal server error")
    try:
        body = await request.json(loads=json.loads)
    except ValueError:
        raise KlingFault(400, 1200, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise KlingFault(400, 1200, "Request body must be a JSON object")
    return state, body


def _accept(
    request: web.Request, state: EmulatorState, body: Mapping[str, Any], fields: dict[str, Any]
) -> web.Response:
    """Start the job of a valid create request (or refuse it by its prompt's scenario)."""
    scenario = scenario_for(fields["prompt"])
    if scenario is Scenario.REJECT:
        raise KlingFault(400, 1301, "Failure to pass the content security policy, please modify the input")
    if scenario is Scenario.INVALID:
        raise _invalid("Invalid parameter: the request was refused by the emulator scenario")

    task_id = _new_task_id(state)
    job = EmulatedJob(id=task_id, duration=state.settings.generation_seconds, scenario=scenario, data=fields)
    state.jobs[task_id] = job
    if fields["external_task_id"]:
        state.external_ids[fields["external_task_id"]] = task_id
    if is_http_url(body.get("callback_url")):
        origin = _origin(request)
        state.callbacks.start(job, body["callback_url"], lambda: _task_object(job, origin))
    created = _ms(job.created)
    data = {
        "task_id": task_id,
        "task_status": "submitted",
        "task_info": _task_info(job),
        "created_at": created,
        "updated_at": created,
    }
    return _envelope(data)


def _validate(family: Family, body: Mapping[str, Any], state: EmulatorState) -> dict[str, Any]:
    """The fields of a create request, or a 1201 naming the bad one."""
    model = body.get("model_name") or body.get("model") or "kling-v1"
    if model not in _FAMILY_MODELS[family]:
        raise _invalid(f"model_name {model!r} is invalid for {family.value}")

    prompt = body.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise _invalid("prompt must be a string")
    if family is Family.TEXT2VIDEO and not (prompt or "").strip():
        raise _invalid("prompt is required")
    for key in ("prompt", "negative_prompt"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_PROMPT):
            raise _invalid(f"{key} must be a string of at most {MAX_PROMPT} characters")

    duration = body.get("duration", "5")
    duration = str(duration) if isinstance(duration, int) and not isinstance(duration, bool) else duration
    if duration not in _DURATIONS:
        raise _invalid(f"duration {body.get('duration')!r} is invalid; allowed: 5, 10")

    mode = body.get("mode", "std")
    if mode not in MODES:
        raise _invalid(f"mode {mode!r} is invalid; allowed: std, pro")

    if "cfg_scale" in body:
        if model not in CFG_SCALE_MODELS:
            raise _invalid(f"cfg_scale is not supported by {model}")
        value = body["cfg_scale"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _invalid("cfg_scale must be a number in [0, 1]")

    if "sound" in body:
        known = BY_NAME.get(model)
        if known is None or not known.sound:
            raise _invalid(f"sound is not supported by {model}")
        if body["sound"] not in ("on", "off"):
            raise _invalid("sound must be on or off")

    camera = body.get("camera_control")
    if camera is not None and (not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES):
        raise _invalid("camera_control.type is invalid")

    aspect_ratio = None  # image2video follows the image; the emulated result is landscape
    if family is Family.TEXT2VIDEO:
        aspect_ratio = body.get("aspect_ratio", "16:9")
        if aspect_ratio not in ASPECT_RATIOS:
            raise _invalid(f"aspect_ratio {aspect_ratio!r} is invalid; allowed: {', '.join(ASPECT_RATIOS)}")
        for key in ("image", "image_tail", "static_mask", "dynamic_masks"):
            if key in body:
                raise _invalid(f"{key} is not a text2video parameter")
    else:
        if "aspect_ratio" in body:
            raise _invalid("aspect_ratio is not supported by image2video; the output follows the image")
        if not body.get("image") and not body.get("image_tail"):
            raise _invalid("image is required")
        for key in ("image", "image_tail", "static_mask"):
            if key in body:
                _check_image(key, body[key])
        masks = body.get("dynamic_masks")
        if masks is not None:
            if not isinstance(masks, list) or not 1 <= len(masks) <= 6:
                raise _invalid("dynamic_masks must hold 1 to 6 items")
            for item in masks:
                if not isinstance(item, dict):
                    raise _invalid("dynamic_masks items must be objects")
                _check_image("dynamic_masks.mask", item.get("mask"))
        groups = [bool(body.get("image_tail")), "static_mask" in body or masks is not None, camera is not None]
        if sum(groups) > 1:
            raise _invalid("image_tail, static_mask/dynamic_masks and camera_control cannot be used together")

    external_id = body.get("external_task_id")
    if external_id is not None:
        if not isinstance(external_id, str) or not external_id:
            raise _invalid("external_task_id must be a non-empty string")
        if external_id in state.external_ids:
            raise _invalid(f"external_task_id {external_id!r} already exists")

    return {
        "family": family.value,
        "model_name": model,
        "prompt": prompt,
        "duration": duration,
        "aspect_ratio": aspect_ratio,
        "mode": mode,
        "external_task_id": external_id,
    }


# ---------------------------------------------------------------- video extension


async def _extend(request: web.Request) -> web.Response:
    """``POST /v1/videos/video-extend``: a new task whose video is the source's plus 5 seconds."""
    state, body = await _submission(request)
    fields = _validate_extension(body, state, _caller(request), _origin(request))
    return _accept(request, state, body, fields)


def _validate_extension(
    body: Mapping[str, Any], state: EmulatorState, account: str | None, origin: str
) -> dict[str, Any]:
    """The fields of an extension request, or a 1201 naming what Kling refuses."""
    unknown = sorted(set(body) - set(_EXTEND_FIELDS))
    if unknown:
        raise _invalid(f"{unknown[0]} is not a video-extend parameter; the model and mode follow the source video")
    video_id = body.get("video_id")
    if not isinstance(video_id, str) or not video_id:
        raise _invalid("video_id is required")
    for key in ("prompt", "negative_prompt"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_PROMPT):
            raise _invalid(f"{key} must be a string of at most {MAX_PROMPT} characters")
    if "cfg_scale" in body:
        value = body["cfg_scale"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _invalid("cfg_scale must be a number in [0, 1]")

    source = state.jobs.get(video_id.removesuffix("-0")) if video_id.endswith("-0") else None
    if source is None or source.phase() is not JobPhase.DONE or not source.succeeds:
        raise _invalid(f"video_id {video_id} does not exist")
    if source.data.get("account") != account:
        raise _invalid(f"video_id {video_id} does not belong to this account")
    if source.data["model_name"] not in EXTEND_MODELS:
        raise _invalid(f"video extension is not supported for videos generated by {source.data['model_name']}")
    if time.time() - (source.created + source.duration) > RETENTION_DAYS * 86400:
        raise _invalid(f"video_id {video_id} has been cleaned up and can no longer be extended")
    duration = int(source.data["duration"]) + EXTENSION_SECONDS[0]
    if duration > MAX_EXTENDED_SECONDS:
        raise _invalid(f"the extended video would exceed {MAX_EXTENDED_SECONDS // 60} minutes")
    return {
        "family": Family.VIDEO_EXTEND.value,
        "model_name": source.data["model_name"],
        "prompt": body.get("prompt"),
        "duration": str(duration),
        "aspect_ratio": source.data.get("aspect_ratio"),
        "mode": source.data["mode"],
        "external_task_id": None,
        "account": account,
        "parent_video": {
            "id": video_id,
            "url": f"{origin}/cdn/videos/{source.id}.mp4",
            "duration": source.data["duration"],
        },
    }


def _check_image(key: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _invalid(f"{key} must be an image URL or base64 string")
    if value[:5].lower() == "data:":
        raise _invalid(f"{key} must be raw base64 without the data: prefix")
    if value.lower().startswith(("http://", "https://")):
        return
    if not _BASE64.match(value[:4096]):
        raise _invalid(f"{key} is neither an image URL nor base64")


def _new_task_id(state: EmulatorState) -> str:
    while True:
        task_id = str(secrets.randbelow(9 * 10**17) + 10**17)  # 18 digits, like Kling's ids
        if task_id not in state.jobs:
            return task_id


# ---------------------------------------------------------------- query


def _query_handler(family: Family) -> Handler:
    async def query(request: web.Request) -> web.Response:
        state = _authenticate(request)
        state.queries += 1
        key = request.match_info["task_id"]
        job = state.jobs.get(key) or state.jobs.get(state.external_ids.get(key, ""))
        if job is None or job.data["family"] != family.value:
            raise KlingFault(404, 1203, f"task {key} does not exist")
        return _envelope(_task_object(job, _origin(request)))

    return query


def _list_handler(family: Family) -> Handler:
    async def list_tasks(request: web.Request) -> web.Response:
        state = _authenticate(request)
        try:
            page = int(request.query.get("pageNum", "1"))
            size = int(request.query.get("pageSize", "30"))
        except ValueError:
            raise _invalid("pageNum and pageSize must be integers") from None
        if not 1 <= page <= 1000 or not 1 <= size <= 500:
            raise _invalid("pageNum must be 1-1000 and pageSize 1-500")
        jobs = sorted(
            (job for job in state.jobs.values() if job.data["family"] == family.value),
            key=lambda job: job.created,
            reverse=True,
        )
        origin = _origin(request)
        return _envelope([_task_object(job, origin) for job in jobs[(page - 1) * size : page * size]])

    return list_tasks


def _task_object(job: EmulatedJob, origin: str) -> dict[str, Any]:
    phase = job.phase()
    created = _ms(job.created)
    data: dict[str, Any] = {
        "task_id": job.id,
        "task_status": "submitted",
        "task_status_msg": "",
        "task_info": _task_info(job),
        "created_at": created,
        "updated_at": created,
    }
    if phase is JobPhase.RUNNING:
        data.update(task_status="processing", updated_at=_ms(job.created + job.duration * 0.1))
    elif phase is JobPhase.DONE:
        data["updated_at"] = _ms(job.created + job.duration)
        if job.succeeds:
            data["task_status"] = "succeed"
            data["final_unit_deduction"] = _units(job)
            data["task_result"] = {
                "videos": [
                    {
                        "id": f"{job.id}-0",
                        "url": f"{origin}/cdn/videos/{job.id}.mp4",
                        "duration": job.data["duration"],
                    }
                ]
            }
        else:
            data["task_status"] = "failed"
            data["task_status_msg"] = BLOCKED_MESSAGE if job.scenario is Scenario.BLOCK else FAILED_MESSAGE
            data["final_unit_deduction"] = "0"
    return data


def _task_info(job: EmulatedJob) -> dict[str, Any]:
    info: dict[str, Any] = {}
    if job.data.get("parent_video"):  # an extension: the video it continues
        info["parent_video"] = job.data["parent_video"]
    if job.data.get("external_task_id"):
        info["external_task_id"] = job.data["external_task_id"]
    return info


def _units(job: EmulatedJob) -> str:
    units = (3.5 if job.data["mode"] == "pro" else 1.0) * (2 if job.data["duration"] == "10" else 1)
    return f"{units:g}"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


# ---------------------------------------------------------------- CDN


async def _video(request: web.Request) -> web.Response:
    state = request.app[STATE]
    name = request.match_info["name"]
    job = state.jobs.get(name.removesuffix(".mp4")) if name.endswith(".mp4") else None
    if job is None or job.phase() is not JobPhase.DONE or not job.succeeds:
        raise web.HTTPNotFound()
    video = state.settings.video_for(int(job.data["duration"]), job.data.get("aspect_ratio"))
    return bytes_response(request, video, "video/mp4")
