"""A test vendor, "acme", with its emulator: the core's tests run without real plugins.

Acme's protocol is deliberately small: ``POST /v2/jobs`` with an
``X-Acme-Key`` header, ``GET /v2/jobs/{id}`` answering ``state`` (``waiting``,
``rendering``, ``ready``, ``broken``) and ``percent``, and files at
``/files/{id}.mp4``.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from reelay import (
    Capabilities,
    ContentSource,
    CredentialSpec,
    DurationRule,
    FailureKind,
    ImageRole,
    ModelSpec,
    PrecedenceRules,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    VendorRef,
    VendorSpec,
    VideoResult,
    failure_for_http_status,
    hookimpl,
)
from reelay.emulation import EmulatedJob, EmulatorSettings, EmulatorSpec, JobPhase, Scenario, scenario_for
from reelay.http.ranges import bytes_response
from reelay.upstream import join_url, request_json

VENDOR = "acme"
JOBS = web.AppKey("acme.jobs", dict)
#: The keys the emulator accepts (a test may add or revoke some); each job records the keys it saw.
KEYS = web.AppKey("acme.keys", set)

MODELS = (
    ModelSpec(
        name="acme-1",
        vendor=VENDOR,
        capabilities=Capabilities(text_to_video=True, image_to_video=True, end_frame=True, max_reference_images=2),
        durations=(4, 6, 8),
        default_duration=4,
        duration_rules=(DurationRule(allowed=(8,), sizes=("1920x1080",)),),
        sizes=("1280x720", "720x1280", "1920x1080", "16:9"),
        default_size="1280x720",
        typical_seconds=1.0,
        precedence=PrecedenceRules(
            duration_sources=("seconds", "duration"),
            image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
        ),
    ),
    ModelSpec(
        name="acme-still",
        vendor=VENDOR,
        capabilities=Capabilities(text_to_video=False, image_to_video=True),
        durations=(5, 10),
        sizes=("16:9", "9:16", "1:1"),
        typical_seconds=1.0,
        aliases=("acme-still-2024",),
        precedence=PrecedenceRules(duration_sources=("duration", "seconds"), size_on_image_to_video=False),
    ),
)


@hookimpl
def reelay_register_vendors(register):
    register(
        VendorSpec(
            name=VENDOR,
            title="Acme Video (test vendor)",
            default_base_url="https://api.acme.invalid",
            credentials=(CredentialSpec("api_key"),),
            options={"region": "eu or us (tests of channel rules)"},
            can_cancel=True,
        )
    )


@hookimpl
def reelay_register_models(register):
    for model in MODELS:
        register(model)


@hookimpl
def reelay_build_payload(request, model, channel):
    if channel.vendor != VENDOR:
        return None
    payload: dict[str, Any] = {"model": channel.upstream_model(model), "text": request.prompt}
    if request.duration is not None:
        payload["length"] = request.duration
    if request.size is not None:
        payload["frame"] = request.size
    if request.first_frame is not None:
        payload["start"] = request.first_frame.data_uri()
    payload.update(request.extra)
    return payload


def _headers(channel) -> dict[str, str]:
    return {"X-Acme-Key": channel.credentials["api_key"]}


def _raise_for(response) -> None:
    message = (response.body or {}).get("message", f"acme answered {response.status}")
    kind = failure_for_http_status(response.status)
    if (response.body or {}).get("kind") == "policy":
        kind = FailureKind.CONTENT_POLICY
    raise UpstreamError(kind, message, http_status=response.status)


async def _submit(payload, channel, http):
    response = await request_json(
        http,
        "POST",
        join_url(channel.base_url, "/v2/jobs"),
        vendor=VENDOR,
        headers=_headers(channel),
        json_body=payload,
    )
    if not response.ok:
        _raise_for(response)
    return VendorRef(id=response.body["job"])


@hookimpl
def reelay_submit(payload, request, channel, http):
    if channel.vendor != VENDOR:
        return None
    return _submit(payload, channel, http)


async def _status(task, channel, http):
    if task.vendor_ref is None:
        raise UpstreamError(FailureKind.NOT_FOUND, "acme cannot look jobs up by our id")
    url = join_url(channel.base_url, f"/v2/jobs/{task.vendor_ref.id}")
    response = await request_json(http, "GET", url, vendor=VENDOR, headers=_headers(channel))
    if not response.ok:
        _raise_for(response)
    return response.body


@hookimpl
def reelay_fetch_status(task, channel, http):
    if channel.vendor != VENDOR:
        return None
    return _status(task, channel, http)


_STATES = {"waiting": TaskStatus.QUEUED, "rendering": TaskStatus.IN_PROGRESS}


@hookimpl
def reelay_map_status(payload, task, channel):
    if channel.vendor != VENDOR:
        return None
    state = payload["state"]
    if state in _STATES:
        return StatusUpdate(_STATES[state], progress=payload.get("percent"))
    if state == "ready":
        return StatusUpdate(TaskStatus.COMPLETED, result=VideoResult(url=payload["video_url"], duration=4.0))
    code = "content_policy_violation" if payload.get("reason") == "policy" else "generation_failed"
    return StatusUpdate(TaskStatus.FAILED, error=TaskError(code, payload.get("detail", "broken")))


async def _content(task, channel):
    return ContentSource(url=task.result.url, headers=_headers(channel), mime_type="video/mp4")


@hookimpl
def reelay_open_content(task, channel, http, variant):
    if channel.vendor != VENDOR:
        return None
    if variant != "video":
        return None
    return _content(task, channel)


async def _cancel(task, channel, http):
    url = join_url(channel.base_url, f"/v2/jobs/{task.vendor_ref.id}")
    response = await request_json(http, "DELETE", url, vendor=VENDOR, headers=_headers(channel))
    if not response.ok:
        _raise_for(response)


@hookimpl
def reelay_cancel(task, channel, http):
    if channel.vendor != VENDOR:
        return None
    return _cancel(task, channel, http)


# ---------------------------------------------------------------- emulator


def create_emulator(settings: EmulatorSettings) -> web.Application:
    jobs: dict[str, EmulatedJob] = {}
    submissions = {"count": 0}

    keys = {settings.credentials.get("api_key")}

    def authorized(request: web.Request) -> bool:
        return request.headers.get("X-Acme-Key") in keys

    def record_key(job: EmulatedJob, request: web.Request, use: str) -> None:
        job.data.setdefault(use, []).append(request.headers.get("X-Acme-Key"))

    async def create(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "bad key"}, status=401)
        submissions["count"] += 1
        if submissions["count"] <= settings.fail_submissions:
            return web.json_response({"message": "overloaded"}, status=503)
        body = await request.json()
        if not isinstance(body.get("model"), str):
            return web.json_response({"message": "model missing"}, status=400)
        scenario = scenario_for(body.get("text"))
        if scenario is Scenario.REJECT:
            return web.json_response({"message": "prompt refused", "kind": "policy"}, status=400)
        if scenario is Scenario.INVALID:
            return web.json_response({"message": "length is out of range"}, status=422)
        job = EmulatedJob(id=secrets.token_hex(8), duration=settings.generation_seconds, scenario=scenario)
        job.data["payload"] = body
        record_key(job, request, "submitted_with")
        job.data["video"] = settings.video_for(body.get("length"), body.get("frame"))
        jobs[job.id] = job
        return web.json_response({"job": job.id})

    async def status(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "bad key"}, status=401)
        job = jobs.get(request.match_info["job"])
        if job is None:
            return web.json_response({"message": "no such job"}, status=404)
        record_key(job, request, "polled_with")
        phase = job.phase()
        if job.cancelled:
            return web.json_response({"state": "broken", "detail": "cancelled"})
        if phase is JobPhase.QUEUED:
            return web.json_response({"state": "waiting", "percent": 0})
        if phase is JobPhase.RUNNING:
            return web.json_response({"state": "rendering", "percent": job.progress()})
        if job.succeeds:
            url = f"{request.scheme}://{request.host}/files/{job.id}.mp4"
            return web.json_response({"state": "ready", "percent": 100, "video_url": url})
        reason = "policy" if job.scenario is Scenario.BLOCK else "engine"
        return web.json_response({"state": "broken", "reason": reason, "detail": f"acme {reason} failure"})

    async def cancel(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "bad key"}, status=401)
        job = jobs.get(request.match_info["job"])
        if job is None:
            return web.json_response({"message": "no such job"}, status=404)
        record_key(job, request, "cancelled_with")
        job.cancelled = True
        return web.json_response({"job": job.id, "cancelled": True})

    async def download(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"message": "bad key"}, status=401)
        job = jobs.get(request.match_info["job"])
        if job is None:
            return web.json_response({"message": "no such file"}, status=404)
        record_key(job, request, "downloaded_with")
        return bytes_response(request, job.data["video"], "video/mp4")

    app = web.Application(client_max_size=64 * 1024**2)
    app.router.add_post("/v2/jobs", create)
    app.router.add_get("/v2/jobs/{job}", status)
    app.router.add_delete("/v2/jobs/{job}", cancel)
    app.router.add_get("/files/{job}.mp4", download)
    app[JOBS] = jobs
    app[KEYS] = keys
    return app


@hookimpl
def reelay_register_emulators(register):
    register(EmulatorSpec(vendor=VENDOR, create_app=create_emulator, credentials={"api_key": "acme-test-key-123"}))
