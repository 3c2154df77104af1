"""An emulator of Luma's Dream Machine API: a real aiohttp application.

Under ``/dream-machine/v1`` it answers what the plugin relies on, as Luma
documents it: Bearer auth (401 ``{"detail": "Invalid API key is provided"}``),
``POST /generations/video`` (and the docs' ``POST /generations``) answering
201 with a queued Generation, ``GET``/``DELETE /generations/{id}``,
``GET /credits`` and ``GET /ping``. Generations go ``queued`` ->
``dreaming`` -> ``completed`` over ``settings.generation_seconds``; the
video (a clip of the asked duration and aspect ratio, ``settings.video_for``)
and thumbnail are served from the emulator's own "CDN" without auth.
Refusals follow the docs' error texts with ``{"detail": "..."}``; schema
errors (a wrong enum, a duration sent as a number) answer 422 with a
FastAPI-style list, which is what the plugin must also be able to read.

A create body with ``callback_url`` gets the Generation posted there, as
Luma does, when it starts dreaming and when it completes or fails; a post
not answered 200 is made again up to 3 times, 100 ms apart
(``state.callbacks.sent`` records every post). A deleted generation calls
back no more.

Prompt markers (:class:`reelay.emulation.Scenario`): ``[emulate:reject]`` ->
400 from moderation, ``[emulate:invalid]`` -> 400, ``[emulate:fail]`` ->
``failed`` with "Prompt processing failed", ``[emulate:block]`` -> ``failed``
with "Advanced prompt moderation failed"; the first
``settings.fail_submissions`` creates answer 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
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
    bearer_auth,
    is_http_url,
    json_object,
    refusals,
    sample_asset,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .models import ASPECT_RATIOS, MODEL_NAMES, PROMPT_MAX, PROMPT_MIN, RESOLUTIONS

DEMO_KEY = "luma-demo-key"
PREFIX = "/dream-machine/v1"
DURATIONS = ("5s", "9s")


class Refused(EmulatorRefusal):
    """An answer in Luma's error shape, ``{"detail": ...}``."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]]):
        super().__init__(status, {"detail": detail})


def _schema(field: str, message: str) -> Refused:
    return Refused(422, [{"loc": ["body", field], "msg": message, "type": "value_error"}])


def _luma_callbacks() -> CallbackSender:
    """Luma's callbacks (docs.lumalabs.ai/changelog/callbacks-and-credits-balance): a non-200
    answer is retried 3 times, 100 ms apart, each post timing out after 5 s."""
    return CallbackSender(status_key="state", retries=3, retry_delay=0.1, timeout=5.0)


@attrs.define
class Dreams(EmulatorState):
    """The generations (``jobs``), the submissions and generation reads counted, the callbacks posted."""

    queries: int = 0  # GET /generations/{id} answered (the gateway's polls)
    callbacks: CallbackSender = attrs.field(factory=_luma_callbacks)

    @property
    def key(self) -> str:
        return self.settings.credentials.get("api_key", DEMO_KEY)


DREAMS = web.AppKey("luma_dreams", Dreams)


def luma_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    key = bearer_auth(lambda request: request.app[DREAMS].key, _denied, open_paths=("/cdn/",))
    app = web.Application(middlewares=[refusals, key])
    app[DREAMS] = Dreams(settings)
    app.router.add_post(f"{PREFIX}/generations/video", _create)
    app.router.add_post(f"{PREFIX}/generations", _create)
    app.router.add_get(f"{PREFIX}/generations/{{id}}", _read)
    app.router.add_delete(f"{PREFIX}/generations/{{id}}", _delete)
    app.router.add_get(f"{PREFIX}/credits", _credits)
    app.router.add_get(f"{PREFIX}/ping", _ping)
    app.router.add_get("/cdn/dream_machine/{id}/{file}", _cdn)
    app.on_cleanup.append(app[DREAMS].callbacks.stop)
    return app


def _denied(header: str) -> Refused:
    return Refused(401, "Invalid API key is provided")


# ---------------------------------------------------------------- create


async def _create(request: web.Request) -> web.Response:
    dreams = request.app[DREAMS]
    if dreams.submission_fails():
        raise Refused(500, "Internal server error")
    body = await json_object(
        request, not_json=Refused(400, "Invalid JSON body"), not_object=_schema("body", "Input should be an object")
    )
    _check(body)
    scenario = scenario_for(body.get("prompt"))
    if scenario is Scenario.REJECT:
        raise Refused(400, "Prompt failed moderation: contains blacklisted words")
    if scenario is Scenario.INVALID:
        raise Refused(400, "Unknown request type")
    generation = EmulatedJob(
        id=str(uuid.uuid4()), duration=dreams.settings.generation_seconds, scenario=scenario, data={"request": body}
    )
    dreams.jobs[generation.id] = generation
    origin = _origin(request)
    if "callback_url" in body:
        dreams.callbacks.start(generation, body["callback_url"], lambda: _callback(dreams, generation, origin))
    return web.json_response(_generation(generation, origin), status=201)


def _check(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise _schema("model", "Field required")
    if model not in MODEL_NAMES:
        raise _schema("model", f"Input should be {' or '.join(map(repr, MODEL_NAMES))}")
    for field, allowed in (("aspect_ratio", ASPECT_RATIOS), ("duration", DURATIONS), ("resolution", RESOLUTIONS)):
        if field in body and body[field] not in allowed:
            raise _schema(field, f"Input should be one of {', '.join(allowed)}")
    if "callback_url" in body and not is_http_url(body["callback_url"]):
        raise _schema("callback_url", "URL scheme should be 'http' or 'https'")
    frames = body.get("keyframes") or {}
    if not isinstance(frames, dict) or set(frames) - {"frame0", "frame1"}:
        raise _schema("keyframes", "Keyframes are frame0 and frame1")
    kinds = tuple(_keyframe_type(frames.get(slot), slot) for slot in ("frame0", "frame1"))
    if "keyframes" in body and kinds == (None, None):
        raise Refused(400, "No keyframes provided")
    prompt = body.get("prompt")
    if prompt is None and "image" not in kinds:
        raise Refused(400, "Prompt is required")
    if prompt is not None and len(prompt) < PROMPT_MIN:
        raise Refused(400, f"Prompt is too short, minimum length is {PROMPT_MIN} characters")
    if prompt is not None and len(prompt) > PROMPT_MAX:
        raise Refused(400, f"Prompt is too long, maximum length is {PROMPT_MAX} characters")
    if body.get("loop") and kinds[1] is not None:
        raise Refused(400, _loop_refusal(*kinds))


def _loop_refusal(first: str | None, last: str) -> str:
    """The docs' texts: only text or a start frame may loop."""
    if first is None:
        return "Loop is not supported for " + ("end frame" if last == "image" else "extend reverse")
    if first == last == "image":
        return "Loop is not supported for keyframes"
    return f"Loop is not supported for interpolate {first} to {last}"


def _keyframe_type(frame: Any, slot: str) -> str | None:
    if frame is None:
        return None
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind == "image":
        if not is_http_url(frame.get("url")):
            raise _schema(f"keyframes.{slot}.url", "URL scheme should be 'http' or 'https'")
        return kind
    if kind == "generation" and isinstance(frame.get("id"), str):
        return kind
    raise _schema(f"keyframes.{slot}", "Input tag should be 'image' or 'generation'")


# ---------------------------------------------------------------- read, delete


def _generation(job: EmulatedJob, origin: str) -> dict[str, Any]:
    phase = job.phase()
    state, reason, assets = "queued", None, None
    if phase is JobPhase.RUNNING:
        state = "dreaming"
    elif phase is JobPhase.DONE and job.succeeds:
        state = "completed"
        cdn = f"{origin}/cdn/dream_machine/{job.id}"
        assets = {"video": f"{cdn}/video.mp4", "image": f"{cdn}/thumb.jpg", "progress_video": None}
    elif phase is JobPhase.DONE:
        state = "failed"
        reason = "Advanced prompt moderation failed" if job.scenario is Scenario.BLOCK else "Prompt processing failed"
    request = job.data["request"]
    return {
        "id": job.id,
        "generation_type": "video",
        "state": state,
        "failure_reason": reason,
        "created_at": datetime.fromtimestamp(job.created, UTC).isoformat(),
        "assets": assets,
        "model": request.get("model"),
        "request": request,
    }


def _find(request: web.Request) -> EmulatedJob:
    generation = request.app[DREAMS].jobs.get(request.match_info["id"])
    if generation is None:
        raise Refused(404, "Generation not found")
    return generation


async def _read(request: web.Request) -> web.Response:
    generation = _find(request)
    request.app[DREAMS].queries += 1
    return web.json_response(_generation(generation, _origin(request)))


def _callback(dreams: Dreams, generation: EmulatedJob, origin: str) -> dict[str, Any] | None:
    """The body of a callback about ``generation`` now: the Generation a read answers; None once deleted."""
    return _generation(generation, origin) if generation.id in dreams.jobs else None


async def _delete(request: web.Request) -> web.Response:
    del request.app[DREAMS].jobs[_find(request).id]
    return web.Response(status=204)


async def _credits(request: web.Request) -> web.Response:
    return web.json_response({"credit_balance": 500000.0})


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"message": "pong"})


async def _cdn(request: web.Request) -> web.StreamResponse:
    dreams = request.app[DREAMS]
    generation = dreams.finished_job(request.match_info["id"])
    if request.match_info["file"] == "video.mp4":
        asked = generation.data["request"]
        seconds = int(asked.get("duration", "5s").removesuffix("s"))
        video = dreams.settings.video_for(seconds, asked.get("aspect_ratio", "16:9"))
        return bytes_response(request, video, "video/mp4")
    if request.match_info["file"] == "thumb.jpg":
        return bytes_response(request, sample_asset("sample.jpg"), "image/jpeg")
    raise web.HTTPNotFound()


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
