"""The emulators' videos look like what was asked (the task's duration and orientation); their handler helpers;
the callbacks they post."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time

import pytest
from aiohttp import web

from reelay.demo import DEMO_TOKEN, demo_environment
from reelay.emulation import (
    CLIP_SECONDS,
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
    orientation,
    refusals,
    sample_clip,
    sample_mp4,
    serve_app,
    size_dimensions,
)
from reelay.testing import callback_receiver, mp4_facts, running_gateway


def ffprobe(data: bytes, tmp_path) -> tuple[float, int, int]:
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    answer = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=width,height", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    facts = json.loads(answer.stdout)
    [stream] = facts["streams"]
    return float(facts["format"]["duration"]), stream["width"], stream["height"]


@pytest.mark.parametrize("seconds", CLIP_SECONDS)
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (1, 1)])
def test_sample_clip_has_the_asked_duration_and_orientation(seconds, width, height):
    duration, clip_width, clip_height = mp4_facts(sample_clip(seconds, width, height))
    assert duration == pytest.approx(seconds, abs=0.05)
    assert orientation(clip_width, clip_height) == orientation(width, height)


@pytest.mark.parametrize(("asked", "given"), [(None, 5), (3, 4), (9, 10), (11, 12), (30, 12), (7.4, 7)])
def test_sample_clip_takes_the_nearest_duration(asked, given):
    assert sample_clip(asked, 16, 9) == sample_clip(given, 16, 9)


def test_size_dimensions_reads_pixels_and_ratios():
    assert size_dimensions("1280x720") == (1280, 720)
    assert size_dimensions("9:16") == (9, 16)
    assert size_dimensions(None) == size_dimensions("auto") == (16, 9)


def test_a_fixed_video_is_served_for_every_job():
    assert EmulatorSettings(video=b"fixed").video_for(8, "720x1280") == b"fixed"
    assert EmulatorSettings().video == sample_mp4()  # for emulators that serve settings.video directly
    assert EmulatorSettings().video_for(8, "720x1280") == sample_clip(8, 9, 16)


@pytest.mark.parametrize(
    ("fields", "seconds", "shape"),
    [
        ({}, 4, "landscape"),
        ({"duration": 6, "size": "720x1280"}, 6, "portrait"),
        ({"seconds": "8", "size": "1920x1080"}, 8, "landscape"),
    ],
)
async def test_demo_video_matches_the_tasks_duration_and_orientation(acme_pm, tmp_path, fields, seconds, shape):
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe is not installed (apt-get install ffmpeg); test_sample_clip_* check the clips' headers")
    async with (
        demo_environment(port=0, generation_seconds=0.2, pm=acme_pm, results_dir=str(tmp_path / "r")) as setup,
        running_gateway(setup.config, pm=acme_pm, token=DEMO_TOKEN) as gw,
    ):
        status, task = await gw.client.submit(model="acme-1", prompt="a red fox", **fields)
        assert status == 200, task
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed" and final["seconds"] == str(seconds)
        code, _, video = await gw.client.content(task["id"])
        assert code == 200
    duration, width, height = ffprobe(video, tmp_path)
    assert duration == pytest.approx(float(final["seconds"]), abs=0.05)
    assert orientation(width, height) == orientation(*size_dimensions(final["size"])) == shape


# ---------------------------------------------------------------- handler helpers


async def test_refusals_answer_in_the_vendors_json_shape(aiohttp_client):
    class AcmeRefusal(EmulatorRefusal):
        def __init__(self, status: int, message: str):
            super().__init__(status, {"error": {"message": message}}, headers={"x-request-id": "r-1"})

    @web.middleware
    async def auth(request, handler):
        if request.headers.get("Authorization") != "Bearer k":
            raise AcmeRefusal(401, "bad key")
        return await handler(request)

    async def create(request):
        raise AcmeRefusal(400, "prompt refused")

    app = web.Application(middlewares=[refusals, auth])
    app.router.add_post("/v1/jobs", create)
    client = await aiohttp_client(app)
    denied = await client.post("/v1/jobs")
    assert denied.status == 401 and await denied.json() == {"error": {"message": "bad key"}}
    refused = await client.post("/v1/jobs", headers={"Authorization": "Bearer k"})
    assert refused.status == 400 and refused.headers["x-request-id"] == "r-1"
    assert await refused.json() == {"error": {"message": "prompt refused"}}


def test_emulator_state_fails_the_first_submissions():
    state = EmulatorState(EmulatorSettings(fail_submissions=2))
    assert [state.submission_fails() for _ in range(4)] == [True, True, False, False]
    assert state.submissions == 4


def test_emulator_state_serves_only_a_finished_successful_job():
    state = EmulatorState(EmulatorSettings())
    state.jobs["done"] = EmulatedJob("done", duration=0)
    state.jobs["running"] = EmulatedJob("running", duration=60)
    state.jobs["failed"] = EmulatedJob("failed", duration=0, scenario=Scenario.FAIL)
    state.jobs["cancelled"] = EmulatedJob("cancelled", duration=0, cancelled=True)
    assert state.finished_job("done") is state.jobs["done"]
    for job_id in ("running", "failed", "cancelled", "unknown"):
        with pytest.raises(web.HTTPNotFound):
            state.finished_job(job_id)


async def test_wait_until_follows_a_retime_made_while_waiting():
    job = EmulatedJob("moved", duration=3600)
    waiter = asyncio.ensure_future(job.wait_until(1.0))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    job.retime(time.time(), 0.1)  # done in 0.1 s instead of an hour
    await asyncio.wait_for(waiter, 2)
    assert job.phase() is JobPhase.DONE
    job.retime(time.time() + 0.2, 0.2)  # later again: waits for the new time
    started = time.perf_counter()
    await job.wait_until(0.5)
    assert time.perf_counter() - started >= 0.29 and job.phase() is JobPhase.RUNNING


async def test_bearer_auth_refuses_a_missing_or_wrong_key_and_keeps_open_paths_open(aiohttp_client):
    def refuse(header: str) -> EmulatorRefusal:
        return EmulatorRefusal(401, {"error": "no key" if not header else "wrong key"})

    async def ok(request):
        return web.json_response(await json_object(request, not_json=refuse(""), not_object=refuse("x")))

    async def video(request):
        return web.Response(body=b"video")

    app = web.Application(middlewares=[refusals, bearer_auth(lambda request: "k", refuse, open_paths=("/cdn/",))])
    app.router.add_post("/v1/jobs", ok)
    app.router.add_get("/cdn/v.mp4", video)
    client = await aiohttp_client(app)
    missing = await client.post("/v1/jobs", json={})
    assert missing.status == 401 and await missing.json() == {"error": "no key"}
    wrong = await client.post("/v1/jobs", json={}, headers={"Authorization": "Bearer nope"})
    assert await wrong.json() == {"error": "wrong key"}
    right = await client.post("/v1/jobs", json={"a": 1}, headers={"Authorization": "Bearer k"})
    assert right.status == 200 and await right.json() == {"a": 1}
    assert (await client.get("/cdn/v.mp4")).status == 200


async def test_json_object_refuses_what_is_not_a_json_object(aiohttp_client):
    async def create(request):
        body = await json_object(
            request,
            not_json=EmulatorRefusal(400, {"error": "not JSON"}),
            not_object=EmulatorRefusal(400, {"error": "not an object"}),
        )
        return web.json_response(body)

    app = web.Application(middlewares=[refusals])
    app.router.add_post("/v1/jobs", create)
    client = await aiohttp_client(app)
    assert await (await client.post("/v1/jobs", data=b"{oops")).json() == {"error": "not JSON"}
    assert await (await client.post("/v1/jobs", json=[1])).json() == {"error": "not an object"}
    assert await (await client.post("/v1/jobs", json={"prompt": "p"})).json() == {"prompt": "p"}


def test_is_http_url():
    assert is_http_url("https://a.example/x") and is_http_url("HTTP://a.example")
    assert not is_http_url("ftp://a.example") and not is_http_url(None) and not is_http_url(42)


async def test_callbacks_are_posted_at_the_jobs_moments_with_its_state_then():
    app, received = callback_receiver()
    sender = CallbackSender(status_key="state", moments=(0.0, 0.1, 1.0))
    job = EmulatedJob(id="j1", duration=0.3)
    async with serve_app(app) as url:
        sender.start(job, f"{url}/cb", lambda: {"id": job.id, "state": job.phase().value})
        await asyncio.sleep(0.7)
    assert [body["state"] for body in received] == ["queued", "running", "done"]
    assert [(sent.job_id, sent.status, sent.answer) for sent in sender.sent] == [
        ("j1", "queued", 200), ("j1", "running", 200), ("j1", "done", 200),
    ]  # fmt: skip
    assert sender.sent[-1].at >= job.created + job.duration and sender.urls == {"j1": f"{url}/cb"}


async def test_a_refused_callback_is_posted_again_only_when_its_status_is_retried():
    app, received = callback_receiver([500, 503, 500, 500])
    sender = CallbackSender(status_key="s", moments=(0.0, 1.0), retries=2, retry_delay=0.05, retried=frozenset({"end"}))
    job = EmulatedJob(id="j2", duration=0.1)
    states = iter(["start", "end"])
    async with serve_app(app) as url:
        sender.start(job, f"{url}/cb", lambda: {"s": next(states)})
        await asyncio.sleep(0.7)
    # "start" is refused (500) and not retried; "end" is refused twice, then taken on the last retry.
    assert [(sent.status, sent.answer) for sent in sender.sent] == [
        ("start", 500), ("end", 503), ("end", 500), ("end", 500),
    ]  # fmt: skip
    assert len(received) == 4
    ends = [sent.at for sent in sender.sent if sent.status == "end"]
    assert all(later - earlier >= 0.05 for earlier, later in itertools.pairwise(ends))


async def test_nothing_is_posted_for_a_none_snapshot_or_an_unreachable_url_and_stop_cancels():
    sender = CallbackSender(status_key="s", moments=(0.0, 1.0), retries=1, retry_delay=0.01, timeout=0.5)
    job = EmulatedJob(id="j3", duration=0.3)
    snapshots = iter([None, {"s": "late"}])
    sender.start(job, "http://127.0.0.1:9/cb", lambda: next(snapshots))  # port 9: nothing listens
    await asyncio.sleep(0.15)
    assert sender.sent == []  # the first moment had nothing to say
    await asyncio.sleep(0.5)
    assert [(sent.status, sent.answer) for sent in sender.sent] == [("late", None), ("late", None)]
    sender.start(EmulatedJob(id="j4", duration=10.0, created=time.time()), "http://127.0.0.1:9/cb", dict)
    await sender.stop()
    assert not sender._running
