"""An emulator of MiniMax's V1 video API: a real aiohttp application.

What the plugin relies on, as MiniMax documents it: every answer is HTTP 200
with ``base_resp`` (1004 without a key, 2049 for a wrong one, 2013 for
invalid parameters naming the field, 1026 for a refused prompt); the mode
follows from the image fields; durations and resolutions are checked per
model (10 s never at 1080P, 512P only for 02 with a first frame only); tasks
go ``Preparing`` -> ``Queueing`` -> ``Processing`` -> ``Success`` with a
``file_id``, which ``/v1/files/retrieve`` turns into a ``download_url`` served
by the emulator itself without auth, like MiniMax's CDN: a landscape clip of
the asked duration (``settings.video_for``), whose length the file's
``bytes`` tells.

A body with ``callback_url`` is checked first, as MiniMax documents: the
create handler POSTs ``{"challenge": <value>}`` there and creates the task
only if the URL answers HTTP 200 with the same value within 3 s
(``state.challenge_seconds``); otherwise the creation fails (2013, an
answer MiniMax does not document: assumed). Then each status change is
posted with the query answer's shape, the status in lower case as the
create pages name callback statuses (``processing`` when the job starts,
``success`` or ``failed`` at its end; none while queued), without
``video_width``/``video_height`` (the earlier guide); no retries (none
documented). ``state.challenges`` records each check, ``state.callbacks.sent``
each post.

Markers in the prompt (:class:`reelay.emulation.Scenario`): ``reject`` ->
1026 at creation; ``invalid`` -> 2013; ``fail`` -> ``Fail``; ``block`` ->
``Fail`` with 1027. The first ``settings.fail_submissions`` creations answer
1013 (internal error).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple

import aiohttp
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
    bearer_auth,
    json_object,
    refusals,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .models import BY_NAME, MAX_PROMPT, RESOLUTIONS, HailuoModel

DEMO_CREDENTIALS: Mapping[str, str] = {"api_key": "minimax-demo-key"}

_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "prompt_optimizer",
        "fast_pretreatment",
        "duration",
        "resolution",
        "first_frame_image",
        "last_frame_image",
        "subject_reference",
        "callback_url",
        "aigc_watermark",
    }
)
_IMAGE = re.compile(r"^(https?://\S+|data:image/(jpeg|jpg|png|webp);base64,[A-Za-z0-9+/=]+)$")
_BY_RESOLUTION = {label: size for size, label in RESOLUTIONS.items()}


#: Seconds MiniMax gives a callback URL to echo its challenge ("within 3s", the create pages).
CHALLENGE_SECONDS = 3.0
#: The callback status for each query status (lower case, the create pages); none while queued.
CALLBACK_STATUSES = {"Processing": "processing", "Success": "success", "Fail": "failed"}


def _body(code: int = 0, message: str = "success", **fields: Any) -> dict[str, Any]:
    return {**fields, "base_resp": {"status_code": code, "status_msg": message}}


def _answer(code: int = 0, message: str = "success", **fields: Any) -> web.Response:
    return web.json_response(_body(code, message, **fields))


class Refusal(EmulatorRefusal):
    """MiniMax's refusal: HTTP 200 with the error in ``base_resp``."""

    def __init__(self, code: int, message: str):
        super().__init__(200, {"base_resp": {"status_code": code, "status_msg": message}})


class Challenge(NamedTuple):
    """One check of a callback URL by the emulator."""

    url: str
    passed: bool  # answered 200 with the challenge echoed, in time


def _minimax_callbacks() -> CallbackSender:
    """MiniMax's status callbacks: when the job starts (``processing``) and when it ends; no retries
    (MiniMax documents none)."""
    return CallbackSender(status_key="status", moments=(0.1, 1.0))


@attrs.define
class MiniMaxState(EmulatorState):
    files: dict[str, str] = attrs.field(factory=dict)  # file_id -> task_id
    queries: int = 0  # task queries answered (the gateway's polls)
    challenge_seconds: float = CHALLENGE_SECONDS  # how long a callback URL has to echo the challenge
    challenges: list[Challenge] = attrs.field(factory=list)
    callbacks: CallbackSender = attrs.field(factory=_minimax_callbacks)


STATE = web.AppKey("hailuo_state", MiniMaxState)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    key = bearer_auth(
        lambda request: request.app[STATE].settings.credentials.get("api_key", ""), _denied, open_paths=("/cdn/",)
    )
    app = web.Application(middlewares=[refusals, key])
    app[STATE] = MiniMaxState(settings)
    app.router.add_post("/v1/video_generation", _create)
    app.router.add_get("/v1/query/video_generation", _query)
    app.router.add_get("/v1/files/retrieve", _retrieve)
    app.router.add_get("/cdn/{file_id}.mp4", _download)
    app.on_cleanup.append(app[STATE].callbacks.stop)
    return app


def _denied(header: str) -> Refusal:
    if not header:
        return Refusal(1004, "login fail: Please carry the API secret key in the 'Authorization' field")
    return Refusal(2049, "invalid api key")


def _param(message: str) -> Refusal:
    return Refusal(2013, f"invalid params, {message}")


async def _create(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.submission_fails():
        raise Refusal(1013, "internal error")
    body = await json_object(request, not_json=_param("body is not JSON"), not_object=_param("body must be an object"))
    model = _checked(body)
    scenario = scenario_for(body.get("prompt"))
    if scenario is Scenario.REJECT:
        raise Refusal(1026, "input new_sensitive")
    if scenario is Scenario.INVALID:
        raise _param("refused by the emulator scenario")
    callback = body.get("callback_url")
    if callback is not None and not await _challenge(state, callback):
        raise _param("callback_url did not answer the challenge")
    task_id = str(secrets.randbelow(9 * 10**14) + 10**14)
    job = state.jobs[task_id] = EmulatedJob(
        task_id,
        state.settings.generation_seconds,
        scenario,
        data={"model": model.name, "duration": body.get("duration", 6)},
    )
    if callback is not None:
        state.callbacks.start(job, callback, lambda: _callback(state, job))
    return _answer(task_id=task_id)


async def _challenge(state: MiniMaxState, url: str) -> bool:
    """Whether ``url`` echoes a fresh challenge in time: HTTP 200 and ``{"challenge": <the value>}``."""
    value = str(uuid.uuid4())  # the shape of the value in MiniMax's example
    answer: Any = None
    timeout = aiohttp.ClientTimeout(total=state.challenge_seconds)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.post(url, json={"challenge": value}) as sent:
            if sent.status == 200:
                answer = await sent.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):  # unreachable, late, not a URL, not JSON
        answer = None
    passed = isinstance(answer, dict) and answer.get("challenge") == value
    state.challenges.append(Challenge(url, passed))
    return passed


def _checked(body: Mapping[str, Any]) -> HailuoModel:
    """The model of a valid body, or the 2013 MiniMax answers."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _param(f"unknown field {unknown[0]}")
    if "callback_url" in body and not isinstance(body["callback_url"], str):
        raise _param("callback_url must be a string")
    model = BY_NAME.get(body.get("model"))  # type: ignore[arg-type]
    if model is None:
        raise _param(f"model {body.get('model')!r} is not supported")
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_PROMPT):
        raise _param(f"prompt must be a string of at most {MAX_PROMPT} characters")
    first, last = body.get("first_frame_image"), body.get("last_frame_image")
    for name, image in (("first_frame_image", first), ("last_frame_image", last)):
        if image is not None and not (isinstance(image, str) and _IMAGE.match(image)):
            raise _param(f"{name} must be a public URL or a data:image base64 URL")
    caps = model.spec.capabilities
    if model.subject:
        references = body.get("subject_reference")
        if not isinstance(references, list) or len(references) != 1 or first or last:
            raise _param("S2V-01 takes exactly one subject_reference and no frames")
        return model
    if last is not None and (first is None or not caps.end_frame):
        raise _param(f"{model.name} does not take last_frame_image here")
    if first is None and not caps.text_to_video:
        raise _param(f"first_frame_image is required for {model.name}")
    if first is not None and not caps.image_to_video:
        raise _param(f"{model.name} does not take first_frame_image")
    if first is None and not (prompt or "").strip():
        raise _param("prompt is required")
    _check_output(body, model, image=first is not None, last=last is not None)
    return model


def _check_output(body: Mapping[str, Any], model: HailuoModel, *, image: bool, last: bool) -> None:
    resolution = body.get("resolution", RESOLUTIONS[model.spec.default_size or ""])
    size = _BY_RESOLUTION.get(resolution)
    offered = model.spec.sizes if image else model.text_sizes
    if size not in offered or (last and resolution == "512P"):
        raise _param(f"resolution {resolution!r} is not supported by {model.name} in this mode")
    duration = body.get("duration", 6)
    allowed = (6,) if resolution == "1080P" else model.spec.durations
    if isinstance(duration, bool) or duration not in allowed:
        raise _param(f"duration {duration!r} is not supported by {model.name} at {resolution}")


async def _query(request: web.Request) -> web.Response:
    state = request.app[STATE]
    job = state.jobs.get(request.query.get("task_id", ""))
    if job is None:
        raise _param("task_id not found")
    state.queries += 1
    return web.json_response(_task_body(state, job))


def _task_body(state: MiniMaxState, job: EmulatedJob) -> dict[str, Any]:
    """The query answer about ``job`` now; a success registers its file for ``/v1/files/retrieve``."""
    phase = job.phase()
    if phase is JobPhase.QUEUED:
        status = "Preparing" if job.elapsed() < job.duration * 0.05 else "Queueing"
        return _body(task_id=job.id, status=status, file_id="")
    if phase is JobPhase.RUNNING:
        return _body(task_id=job.id, status="Processing", file_id="")
    if job.scenario is Scenario.BLOCK:
        return _body(1027, "output new_sensitive", task_id=job.id, status="Fail", file_id="")
    if not job.succeeds:
        return _body(task_id=job.id, status="Fail", file_id="")
    file_id = f"3{job.id}"
    state.files[file_id] = job.id
    return _body(task_id=job.id, status="Success", file_id=file_id, video_width=1366, video_height=768)


def _callback(state: MiniMaxState, job: EmulatedJob) -> dict[str, Any] | None:
    """The body of a callback about ``job`` now: the query answer with its status in lower case and
    without the video's size; None while queued (the pages name no queued callback status)."""
    body = _task_body(state, job)
    status = CALLBACK_STATUSES.get(body["status"])
    if status is None:
        return None
    body.pop("video_width", None)
    body.pop("video_height", None)
    return {**body, "status": status}


async def _retrieve(request: web.Request) -> web.Response:
    state = request.app[STATE]
    file_id = request.query.get("file_id", "")
    if file_id not in state.files:
        raise _param("file_id not found")
    url = f"{request.scheme}://{request.host}/cdn/{file_id}.mp4?Expires=3600"
    file = {"file_id": int(file_id), "bytes": len(_video(state, file_id)), "filename": "output_aigc.mp4"}
    file.update(purpose="video_generation", download_url=url, created_at=int(state.jobs[state.files[file_id]].created))
    return _answer(file=file)


async def _download(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.match_info["file_id"] not in state.files:
        raise web.HTTPNotFound()
    return bytes_response(request, _video(state, request.match_info["file_id"]), "video/mp4")


def _video(state: MiniMaxState, file_id: str) -> bytes:
    """The clip of a finished task's file: its asked duration, landscape (the task reports 1366x768)."""
    return state.settings.video_for(state.jobs[state.files[file_id]].data["duration"], "16:9")
