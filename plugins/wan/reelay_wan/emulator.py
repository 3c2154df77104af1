"""An emulator of DashScope's asynchronous video synthesis for Wan: a real aiohttp application.

As Model Studio documents it: a Bearer key (401 ``InvalidApiKey``), the
``X-DashScope-Async: enable`` header (403 ``AccessDenied`` without), the
region's catalogue (``settings.options["region"]``), kf2v models only on the
``image2video`` path ("url error, please check url!"), sizes, resolutions and
durations per model (400 ``InvalidParameter``), tasks going PENDING ->
RUNNING -> SUCCEEDED, UNKNOWN for ids it never made, cancel only while
PENDING (400 ``UnsupportedOperation``), errors as ``{code, message,
request_id}``. The video URL points at the emulator, like a signed OSS link;
the video is a clip of the asked ``duration`` and ``size``
(``settings.video_for``; landscape without a size).

Prompt markers: ``reject`` -> 400 ``DataInspectionFailed``; ``invalid`` -> 400
``InvalidParameter``; ``fail`` -> FAILED ``InternalError``; ``block`` ->
FAILED ``DataInspectionFailed``. The first ``settings.fail_submissions``
creations answer 500 ``InternalError``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
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
    bearer_auth,
    refusals,
    scenario_for,
)
from reelay.http.ranges import bytes_response

from .models import BY_NAME, I2V_TIERS, Kind, Region, WanModel

DEMO_CREDENTIALS: Mapping[str, str] = {"api_key": "sk-dashscope-demo"}
_IMAGE = re.compile(r"^(https?://\S+|data:image/(jpeg|jpg|png|bmp|webp);base64,[A-Za-z0-9+/=]+)$")


class DashScopeError(EmulatorRefusal):
    """DashScope's ``{code, message, request_id}``, the request id also in a header."""

    def __init__(self, status: int, code: str, message: str):
        request_id = str(uuid.uuid4())
        body = {"code": code, "message": message, "request_id": request_id}
        super().__init__(status, body, headers={"x-request-id": request_id})


@attrs.define
class Synthesis(EmulatorState):
    def region(self) -> Region:
        return Region(self.settings.options.get("region", "intl"))


KEY = web.AppKey("wan_state", Synthesis)


def create_app(settings: EmulatorSettings) -> web.Application:
    """The emulator application (an app factory, mountable elsewhere)."""
    key = bearer_auth(
        lambda request: request.app[KEY].settings.credentials.get("api_key", ""), _denied, open_paths=("/oss/",)
    )
    app = web.Application(middlewares=[refusals, key])
    app[KEY] = Synthesis(settings)
    for kind in (Kind.T2V, Kind.KF2V):
        app.router.add_post(kind.path, _creator(kind))
    app.router.add_get("/api/v1/tasks/{id}", _task)
    app.router.add_post("/api/v1/tasks/{id}/cancel", _cancel)
    app.router.add_get("/oss/{id}.mp4", _video)
    return app


def _denied(header: str) -> DashScopeError:
    return DashScopeError(401, "InvalidApiKey", "No API-key provided." if not header else "Invalid API-key provided.")


def _bad(message: str) -> DashScopeError:
    return DashScopeError(400, "InvalidParameter", message)


def _creator(path_kind: Kind):
    async def create(request: web.Request) -> web.Response:
        state = request.app[KEY]
        if request.headers.get("X-DashScope-Async") != "enable":
            raise DashScopeError(403, "AccessDenied", "current user api does not support synchronous calls")
        if state.submission_fails():
            raise DashScopeError(500, "InternalError", "An internal error has occured, please try again later.")
        body = await request.json()
        model = BY_NAME.get(body.get("model"))
        if model is None or state.region() not in model.regions:
            raise _bad("Model not exist.")
        if (model.kind is Kind.KF2V) != (path_kind is Kind.KF2V):
            raise _bad("url error, please check url!")
        inputs, parameters = body.get("input") or {}, body.get("parameters") or {}
        _validate(model, inputs, parameters)
        scenario = scenario_for(inputs.get("prompt"))
        if scenario is Scenario.REJECT:
            raise DashScopeError(400, "DataInspectionFailed", "Input data may contain inappropriate content.")
        if scenario is Scenario.INVALID:
            raise _bad("refused by the emulator scenario")
        job = EmulatedJob(str(uuid.uuid4()), state.settings.generation_seconds, scenario, data=parameters)
        state.jobs[job.id] = job
        return web.json_response(
            {"output": {"task_status": "PENDING", "task_id": job.id}, "request_id": str(uuid.uuid4())}
        )

    return create


def _validate(model: WanModel, inputs: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
    images = {"i2v": ("img_url",), "kf2v": ("first_frame_url", "last_frame_url"), "t2v": ()}[model.kind.value]
    for key in ("img_url", "first_frame_url", "last_frame_url"):
        if key in inputs and (key not in images or not _IMAGE.match(str(inputs[key]))):
            raise _bad(f"{key} is not valid for {model.name}")
    if images and images[0] not in inputs:
        raise _bad(f"{images[0]} is required")
    if model.kind is Kind.T2V:
        if not str(inputs.get("prompt") or "").strip():
            raise _bad("prompt is required")
        if "resolution" in parameters:
            raise _bad("resolution is not a text-to-video parameter; use size")
        size = str(parameters.get("size", model.spec.default_size)).replace("*", "x")
        if size not in model.spec.sizes:
            raise _bad(f"size must be in {','.join(s.replace('x', '*') for s in model.spec.sizes)}")
    else:
        if "size" in parameters:
            raise _bad("size is not an image-to-video parameter; use resolution")
        tiers = [I2V_TIERS[size] for size in model.spec.sizes]
        if parameters.get("resolution", tiers[-1]) not in tiers:
            raise _bad(f"resolution must be one of {', '.join(tiers)}")
    if parameters.get("duration", 5) not in model.spec.durations:
        raise _bad(f"duration must be one of {', '.join(map(str, model.spec.durations))}")


def _status(job: EmulatedJob) -> str:
    phase = job.phase()
    if job.cancelled:
        return "CANCELED"
    return {JobPhase.QUEUED: "PENDING", JobPhase.RUNNING: "RUNNING"}.get(phase) or (
        "SUCCEEDED" if job.succeeds else "FAILED"
    )


async def _task(request: web.Request) -> web.Response:
    job = request.app[KEY].jobs.get(request.match_info["id"])
    request_id = str(uuid.uuid4())
    if job is None:
        return web.json_response(
            {"request_id": request_id, "output": {"task_id": request.match_info["id"], "task_status": "UNKNOWN"}}
        )
    output: dict[str, Any] = {"task_id": job.id, "task_status": _status(job), "submit_time": "2026-01-01 12:00:00.000"}
    body: dict[str, Any] = {"request_id": request_id, "output": output}
    if output["task_status"] == "SUCCEEDED":
        output["video_url"] = f"{request.scheme}://{request.host}/oss/{job.id}.mp4?Expires=86400&Signature=emulated"
        body["usage"] = {"duration": float(job.data.get("duration", 5)), "video_count": 1, "SR": 720}
    elif output["task_status"] == "FAILED":
        blocked = job.scenario is Scenario.BLOCK
        output["code"] = "DataInspectionFailed" if blocked else "InternalError"
        output["message"] = "Output data may contain inappropriate content." if blocked else "Generation failed."
    return web.json_response(body)


async def _cancel(request: web.Request) -> web.Response:
    job = request.app[KEY].jobs.get(request.match_info["id"])
    if job is None or _status(job) != "PENDING":
        raise DashScopeError(
            400, "UnsupportedOperation", "Failed to cancel the task, please confirm if the task is in PENDING status."
        )
    job.cancelled = True
    return web.json_response({"request_id": str(uuid.uuid4())})


async def _video(request: web.Request) -> web.Response:
    state = request.app[KEY]
    parameters = state.finished_job(request.match_info["id"]).data
    size = str(parameters.get("size", "1280*720")).replace("*", "x")  # no size (image-to-video, a default): landscape
    return bytes_response(request, state.settings.video_for(parameters.get("duration", 5), size), "video/mp4")
