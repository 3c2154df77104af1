"""An emulator of Runway's video API: a real aiohttp application.

It speaks what the plugin relies on, as Runway documents it: Bearer auth
checked against the configured key (401), ``X-Runway-Version`` required
(400), bodies validated per model and endpoint with Runway's validation
shape (``{"error": "Validation of body failed", "issues": [...]}``), tasks
going ``THROTTLED`` -> ``PENDING`` -> ``RUNNING`` (with ``progress``) ->
``SUCCEEDED`` over ``settings.generation_seconds``, ``DELETE`` cancelling a
running task and deleting a finished one. Outputs are signed URLs on the
emulator itself (``/outputs/<id>.mp4?_jwt=...``), served with ``Range``: a
clip of the task's duration and ratio (``settings.video_for``).

Prompt markers (:class:`reelay.emulation.Scenario`): ``[emulate:reject]`` ->
400 from moderation, ``[emulate:invalid]`` -> 400 validation,
``[emulate:fail]`` -> ``FAILED`` with ``INTERNAL.BAD_OUTPUT.CODE01``,
``[emulate:block]`` -> ``FAILED`` with ``SAFETY.OUTPUT.VIDEO``; the first
``settings.fail_submissions`` creates answer 503.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

from reelay.emulation import (
    EmulatedJob,
    EmulatorRefusal,
    EmulatorSettings,
    EmulatorState,
    JobPhase,
    Scenario,
    json_object,
    refusals,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .models import BY_NAME, IMAGE_TYPES, MAX_PROMPT_UTF16, Endpoint, RunwayModel, to_ratio
from .wire import API_VERSION, utf16_length

DEMO_CREDENTIALS: Mapping[str, str] = {"api_key": "key_runway_demo"}

_COMMON_FIELDS = ("model", "promptText", "ratio", "duration")


class RunwayRefusal(EmulatorRefusal):
    """An error answer in Runway's shape."""

    def __init__(self, status: int, error: str, issues: list[dict[str, Any]] | None = None):
        body: dict[str, Any] = {"error": error}
        if issues is not None:
            body.update(issues=issues, docUrl="https://docs.dev.runwayml.com/api/")
        super().__init__(status, body)


def _invalid(path: str, message: str) -> RunwayRefusal:
    issue = {"code": "invalid", "path": path.split("."), "message": message}
    return RunwayRefusal(400, "Validation of body failed", [issue])


@attrs.define
class RunwayState(EmulatorState):
    @property
    def key(self) -> str:
        return (self.settings.credentials or DEMO_CREDENTIALS).get("api_key", "")


STATE = web.AppKey("runway_state", RunwayState)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    app = web.Application(middlewares=[refusals])
    app[STATE] = RunwayState(settings)
    for endpoint in Endpoint:
        app.router.add_post(endpoint.path, _creator(endpoint))
    app.router.add_get("/v1/tasks/{id}", _get_task)
    app.router.add_delete("/v1/tasks/{id}", _delete_task)
    app.router.add_get("/outputs/{name}", _output)
    return app


def _checked(request: web.Request) -> RunwayState:
    state = request.app[STATE]
    if request.headers.get("Authorization") != f"Bearer {state.key}":
        raise RunwayRefusal(401, "Invalid API key")
    version = request.headers.get("X-Runway-Version")
    if version != API_VERSION:
        raise RunwayRefusal(400, f"Unsupported X-Runway-Version {version!r}; use {API_VERSION}")
    return state


# ---------------------------------------------------------------- create


def _creator(endpoint: Endpoint) -> Any:
    async def create(request: web.Request) -> web.Response:
        state = _checked(request)
        if state.submission_fails():
            raise RunwayRefusal(503, "Service is shedding load; retry later")
        body = await json_object(
            request,
            not_json=RunwayRefusal(400, "The request body is not JSON"),
            not_object=_invalid("", "Expected an object"),
        )
        model = _validate(endpoint, body)
        scenario = scenario_for(body.get("promptText"))
        if scenario is Scenario.REJECT:
            raise RunwayRefusal(400, "SAFETY.INPUT.TEXT: the prompt was rejected by content moderation")
        if scenario is Scenario.INVALID:
            raise _invalid("promptText", "Refused by the emulator scenario")
        job = EmulatedJob(
            id=str(uuid.uuid4()),
            duration=state.settings.generation_seconds,
            scenario=scenario,
            data={"model": model.name, "body": body},
        )
        state.jobs[job.id] = job
        return web.json_response({"id": job.id})

    return create


def _validate(endpoint: Endpoint, body: Mapping[str, Any]) -> RunwayModel:
    name = body.get("model")
    model = BY_NAME.get(name) if isinstance(name, str) else None
    if model is None or endpoint not in model.ratios:
        offered = [m.name for m in BY_NAME.values() if endpoint in m.ratios]
        raise _invalid("model", f"Invalid enum value. Expected {' | '.join(offered)}, received {name!r}")

    known = {*_COMMON_FIELDS, *model.fields.get(endpoint, ())}
    if endpoint is Endpoint.IMAGE_TO_VIDEO:
        known.add("promptImage")
    unknown = sorted(set(body) - known)
    if unknown:
        raise _invalid(unknown[0], f"Unrecognized key {unknown[0]!r}")

    prompt = body.get("promptText")
    if prompt is None and endpoint in model.prompt_required:
        raise _invalid("promptText", "Required")
    if prompt is not None and (not isinstance(prompt, str) or not 1 <= utf16_length(prompt) <= MAX_PROMPT_UTF16):
        raise _invalid("promptText", f"Must be a string of 1 to {MAX_PROMPT_UTF16} characters")

    ratios = [to_ratio(size) for size in model.ratios[endpoint]]
    if body.get("ratio") not in ratios:
        raise _invalid("ratio", f"Invalid enum value. Expected {' | '.join(ratios)}, received {body.get('ratio')!r}")

    duration = body.get("duration")
    if duration is None and model.name == "gen4.5":
        raise _invalid("duration", "Required")
    if duration is not None and (isinstance(duration, bool) or duration not in model.spec.durations):
        allowed = ", ".join(map(str, model.spec.durations))
        raise _invalid("duration", f"Duration must be one of {allowed}")

    if endpoint is Endpoint.IMAGE_TO_VIDEO:
        _validate_prompt_image(body.get("promptImage"), model)
    return model


def _validate_prompt_image(value: Any, model: RunwayModel) -> None:
    if isinstance(value, str):
        _validate_uri("promptImage", value)
        return
    if not isinstance(value, list) or not value:
        raise _invalid("promptImage", "Required: a URI or an array of {uri, position}")
    positions = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("uri"), str):
            raise _invalid(f"promptImage.{index}.uri", "Required")
        _validate_uri(f"promptImage.{index}.uri", item["uri"])
        positions.append(item.get("position"))
    allowed = ("first", "last") if model.spec.capabilities.end_frame else ("first",)
    if any(position not in allowed for position in positions) or len(set(positions)) != len(positions):
        raise _invalid("promptImage", f"Positions must be distinct values of {', '.join(allowed)}")
    if "first" not in positions:
        raise _invalid("promptImage", "This model does not support generating with only a last frame")


def _validate_uri(path: str, uri: str) -> None:
    if uri.startswith(("https://", "runway://")):
        return
    if uri.startswith("data:"):
        mime = uri[5:].split(";", 1)[0]
        if mime not in IMAGE_TYPES or ";base64," not in uri[:100]:
            raise _invalid(path, "Data URIs must be base64-encoded JPEG, PNG or WebP images")
        return
    raise _invalid(path, "Must be an HTTPS URL, a runway:// URI or a data URI")


# ---------------------------------------------------------------- tasks


def _job(state: RunwayState, request: web.Request) -> EmulatedJob:
    job = state.jobs.get(request.match_info["id"])
    if job is None:
        raise RunwayRefusal(404, "Task not found")
    return job


async def _get_task(request: web.Request) -> web.Response:
    state = _checked(request)
    job = _job(state, request)
    return web.json_response(_task_object(job, f"{request.scheme}://{request.host}"))


def _task_object(job: EmulatedJob, origin: str) -> dict[str, Any]:
    created = datetime.fromtimestamp(job.created, UTC).isoformat().replace("+00:00", "Z")
    task: dict[str, Any] = {"id": job.id, "createdAt": created}
    if job.cancelled:
        return {**task, "status": "CANCELLED"}
    phase = job.phase()
    if phase is JobPhase.QUEUED:
        throttled = job.elapsed() < job.duration * 0.05
        return {**task, "status": "THROTTLED" if throttled else "PENDING"}
    if phase is JobPhase.RUNNING:
        return {**task, "status": "RUNNING", "progress": round(job.progress() / 100, 2)}
    if job.succeeds:
        token = secrets.token_urlsafe(12)
        return {**task, "status": "SUCCEEDED", "output": [f"{origin}/outputs/{job.id}.mp4?_jwt={token}"]}
    if job.scenario is Scenario.BLOCK:
        return {
            **task,
            "status": "FAILED",
            "failure": "The output was rejected by content moderation.",
            "failureCode": "SAFETY.OUTPUT.VIDEO",
        }
    return {
        **task,
        "status": "FAILED",
        "failure": "An unexpected error occurred.",
        "failureCode": "INTERNAL.BAD_OUTPUT.CODE01",
    }


async def _delete_task(request: web.Request) -> web.Response:
    state = _checked(request)
    job = _job(state, request)
    if job.cancelled or job.phase() is JobPhase.DONE:
        del state.jobs[job.id]  # a finished task is deleted
    else:
        job.cancelled = True
    return web.Response(status=204)


async def _output(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    if not request.query.get("_jwt"):
        raise web.HTTPNotFound()
    job = state.finished_job(request.match_info["name"].removesuffix(".mp4"))
    body = job.data["body"]
    seconds = body.get("duration") or BY_NAME[job.data["model"]].spec.default_duration
    return bytes_response(request, state.settings.video_for(seconds, body.get("ratio")), "video/mp4")
