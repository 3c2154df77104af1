"""The Kling emulator on loopback, driven through the plugin's own hooks and over raw HTTP."""

from __future__ import annotations

import asyncio
import base64
import time

import aiohttp
import pytest

import reelay_kling
from reelay import Channel, FailureKind, SourceVideo, Task, TaskStatus, UpstreamError
from reelay.emulation import EmulatorSpec, sample_asset, sample_clip, serve_app
from reelay_kling.auth import make_token
from reelay_kling.emulator import STATE, create_app
from reelay_kling.models import BY_NAME

PNG_B64 = base64.b64encode(sample_asset("sample.png")).decode()


@pytest.fixture
def spec() -> EmulatorSpec:
    found: list[EmulatorSpec] = []
    reelay_kling.plugin.reelay_register_emulators(found.append)
    (only,) = found
    return only


def test_emulator_registration(spec):
    assert spec.vendor == "kling"
    assert spec.credentials == {"access_key": "demo-ak", "secret_key": "demo-sk"}
    assert spec.create_app is create_app


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def serve(spec):
    """``async with serve(**settings) as channel``: an emulator on loopback and a channel for it."""

    def start(credentials=None, **overrides):
        overrides.setdefault("generation_seconds", 0.3)
        app = create_app(spec.settings(**overrides))

        class _Running:
            async def __aenter__(self) -> Channel:
                self._served = serve_app(app)
                base_url = await self._served.__aenter__()
                return Channel(
                    name="kling-emulator",
                    vendor="kling",
                    base_url=base_url,
                    credentials=credentials or dict(spec.credentials),
                )

            async def __aexit__(self, *exc) -> None:
                await self._served.__aexit__(*exc)

        return _Running()

    return start


@pytest.fixture
def gateway(pm, normalized, http):
    """Drives one task through the hooks the way the core does."""

    class Gateway:
        async def submit(self, channel: Channel, model: str, public_id: str = "video_emu1", **fields) -> Task:
            request = normalized(model, public_id=public_id, **fields)
            payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=channel)
            ref = await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)
            return Task(
                id=public_id,
                owner="alice",
                model=model,
                vendor="kling",
                channel=channel.name,
                vendor_ref=ref,
                request=request,
            )

        async def poll(self, channel: Channel, task: Task, timeout: float = 5.0) -> list[TaskStatus]:
            seen = []
            deadline = time.monotonic() + timeout
            while not task.is_terminal:
                assert time.monotonic() < deadline, "task did not finish"
                payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
                update = pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
                task.status, task.result, task.error = update.status, update.result, update.error
                seen.append(update.status)
                if not task.is_terminal:
                    await asyncio.sleep(0.02)
            return seen

        async def content(self, channel: Channel, task: Task, headers=None) -> tuple[int, bytes]:
            source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
            async with http.get(source.url, headers={**source.headers, **(headers or {})}) as response:
                return response.status, await response.read()

    return Gateway()


# ---------------------------------------------------------------- through the hooks


async def test_text_to_video_end_to_end(serve, gateway):
    async with serve() as channel:
        task = await gateway.submit(channel, "kling-v1", prompt="a red fox", size="720x1280", seconds=10)
        assert task.vendor_ref.data == {"family": "text2video"}
        assert task.vendor_ref.id.isdigit()
        seen = await gateway.poll(channel, task)
        assert seen[-1] is TaskStatus.COMPLETED
        assert set(seen) <= {TaskStatus.QUEUED, TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED}
        assert task.result.duration == 10.0
        assert task.result.url.startswith(channel.base_url + "/cdn/videos/")
        status, body = await gateway.content(channel, task)
        assert status == 200
        assert body == sample_clip(10, 720, 1280)  # the asked duration and orientation
        status, head = await gateway.content(channel, task, headers={"Range": "bytes=0-99"})
        assert status == 206
        assert head == body[:100]


async def test_image_to_video_with_data_uri_and_tail(serve, gateway):
    async with serve() as channel:
        task = await gateway.submit(
            channel,
            "kling-v1-5",
            image=f"data:image/png;base64,{PNG_B64}",
            images=(PNG_B64,),
            metadata={"mode": "pro", "cfg_scale": 0.4, "style": "dropped"},
        )
        assert task.vendor_ref.data == {"family": "image2video"}
        await gateway.poll(channel, task)
        assert task.status is TaskStatus.COMPLETED
        assert (await gateway.content(channel, task))[1] == sample_clip(5, 16, 9)  # the output follows the image


async def test_statuses_advance_over_generation_time(serve, gateway):
    async with serve(generation_seconds=0.6) as channel:
        task = await gateway.submit(channel, "kling-v2-5-turbo", prompt="slow")
        seen = await gateway.poll(channel, task)
    assert seen[0] is TaskStatus.QUEUED
    assert TaskStatus.IN_PROGRESS in seen
    assert seen[-1] is TaskStatus.COMPLETED


async def test_task_found_by_external_id_after_a_crash(serve, gateway, pm, http):
    async with serve() as channel:
        task = await gateway.submit(channel, "kling-v1", public_id="video_crash1", image="https://i.test/a.png")
        ref, task.vendor_ref = task.vendor_ref, None  # the gateway died before recording Kling's id
        assert await pm.hook.reelay_find_submission(task=task, channel=channel, http=http) == ref
        task.request = None  # without the request both families are tried
        task.vendor_ref = await pm.hook.reelay_find_submission(task=task, channel=channel, http=http)
        await gateway.poll(channel, task)
        assert task.status is TaskStatus.COMPLETED


async def test_unknown_external_id_is_not_found(serve, pm, http):
    async with serve() as channel:
        task = Task(id="video_never", owner="a", model="kling-v1", vendor="kling", channel=channel.name)
        assert await pm.hook.reelay_find_submission(task=task, channel=channel, http=http) is None


@pytest.mark.parametrize(
    ("marker", "kind"),
    [("[emulate:reject]", FailureKind.CONTENT_POLICY), ("[emulate:invalid]", FailureKind.CALLER)],
)
async def test_refusals_at_submission(serve, gateway, marker, kind):
    async with serve() as channel:
        with pytest.raises(UpstreamError) as caught:
            await gateway.submit(channel, "kling-v1", prompt=f"a cat {marker}")
    assert caught.value.kind is kind
    assert caught.value.http_status == 400


@pytest.mark.parametrize(
    ("marker", "code"),
    [("[emulate:fail]", "generation_failed"), ("[emulate:block]", "content_policy_violation")],
)
async def test_failures_after_acceptance(serve, gateway, marker, code):
    async with serve() as channel:
        task = await gateway.submit(channel, "kling-v1-6", prompt=f"a cat {marker}")
        await gateway.poll(channel, task)
    assert task.status is TaskStatus.FAILED
    assert task.error.code == code


async def test_transient_submission_failures(serve, gateway):
    async with serve(fail_submissions=1) as channel:
        with pytest.raises(UpstreamError) as caught:
            await gateway.submit(channel, "kling-v1", prompt="first")
        assert caught.value.kind is FailureKind.TRANSIENT
        assert caught.value.http_status == 500
        task = await gateway.submit(channel, "kling-v1", prompt="second")
        assert task.vendor_ref is not None


async def test_wrong_keys_are_a_channel_failure(serve, gateway):
    wrong = {"access_key": "demo-ak", "secret_key": "not-the-secret"}
    async with serve(credentials=wrong) as channel:
        with pytest.raises(UpstreamError) as caught:
            await gateway.submit(channel, "kling-v1", prompt="p")
    assert caught.value.kind is FailureKind.CHANNEL
    assert "not-the-secret" not in caught.value.message


# ---------------------------------------------------------------- raw HTTP


@pytest.fixture
async def client(aiohttp_client, spec):
    return await aiohttp_client(create_app(spec.settings(generation_seconds=0.2)))


def bearer(access_key="demo-ak", secret_key="demo-sk", now=None) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(access_key, secret_key, now=now)}"}


async def answer(response) -> tuple[int, dict]:
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 1001),
        ({"Authorization": "Token abc"}, 1002),
        ({"Authorization": "Bearer not.a.jwt"}, 1002),
        (bearer(secret_key="wrong-secret"), 1000),
        (bearer(access_key="someone-else"), 1000),
        (bearer(now=time.time() - 4000), 1004),
        (bearer(now=time.time() + 600), 1003),
    ],
)
async def test_auth_failures(client, headers, code):
    status, body = await answer(await client.post("/v1/videos/text2video", json={"prompt": "p"}, headers=headers))
    assert status == 401
    assert body["code"] == code
    assert body["request_id"]


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("text2video", {"prompt": "p", "model_name": "kling-v9"}, "model_name"),
        ("text2video", {"prompt": "p", "model_name": "kling-v1-5"}, "model_name"),
        ("text2video", {"prompt": "p", "duration": "7"}, "duration"),
        ("text2video", {"prompt": "p", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ("text2video", {"model_name": "kling-v1"}, "prompt"),
        ("text2video", {"prompt": "p", "model_name": "kling-v2-master", "cfg_scale": 0.5}, "cfg_scale"),
        ("text2video", {"prompt": "p", "mode": "max"}, "mode"),
        ("image2video", {"image": "https://i.test/a.png", "aspect_ratio": "16:9"}, "aspect_ratio"),
        ("image2video", {"image": f"data:image/png;base64,{PNG_B64}"}, "data:"),
        ("image2video", {"prompt": "no image"}, "image"),
        (
            "image2video",
            {
                "image": "https://i.test/a.png",
                "image_tail": "https://i.test/b.png",
                "camera_control": {"type": "down_back"},
            },
            "together",
        ),
    ],
)
async def test_invalid_parameters(client, path, body, fragment):
    status, answer_body = await answer(await client.post(f"/v1/videos/{path}", json=body, headers=bearer()))
    assert status == 400
    assert answer_body["code"] == 1201
    assert fragment in answer_body["message"]


async def test_create_query_and_list(client):
    body = {"model_name": "kling-v1", "prompt": "p", "mode": "pro", "duration": "10", "external_task_id": "ext-1"}
    status, created = await answer(await client.post("/v1/videos/text2video", json=body, headers=bearer()))
    assert status == 200
    assert (created["code"], created["message"]) == (0, "SUCCEED")
    data = created["data"]
    assert data["task_status"] == "submitted"
    assert data["task_info"] == {"external_task_id": "ext-1"}
    assert data["created_at"] > 10**12  # milliseconds

    status, duplicate = await answer(await client.post("/v1/videos/text2video", json=body, headers=bearer()))
    assert (status, duplicate["code"]) == (400, 1201)

    await asyncio.sleep(0.25)
    for key in (data["task_id"], "ext-1"):
        status, queried = await answer(await client.get(f"/v1/videos/text2video/{key}", headers=bearer()))
        assert status == 200
        task = queried["data"]
        assert task["task_status"] == "succeed"
        assert task["final_unit_deduction"] == "7"
        assert task["updated_at"] >= task["created_at"]
        video = task["task_result"]["videos"][0]
        assert video["duration"] == "10"
        assert video["url"] == f"http://{client.server.host}:{client.server.port}/cdn/videos/{data['task_id']}.mp4"

    status, other_family = await answer(await client.get(f"/v1/videos/image2video/{data['task_id']}", headers=bearer()))
    assert (status, other_family["code"]) == (404, 1203)

    status, listed = await answer(await client.get("/v1/videos/text2video?pageNum=1&pageSize=30", headers=bearer()))
    assert status == 200
    assert [t["task_id"] for t in listed["data"]] == [data["task_id"]]
    status, empty = await answer(await client.get("/v1/videos/image2video", headers=bearer()))
    assert empty["data"] == []
    status, bad = await answer(await client.get("/v1/videos/text2video?pageSize=501", headers=bearer()))
    assert (status, bad["code"]) == (400, 1201)


async def test_queries_need_auth(client):
    status, body = await answer(await client.get("/v1/videos/text2video/123"))
    assert (status, body["code"]) == (401, 1001)


async def test_cdn_serves_only_finished_videos(client):
    body = {"prompt": "p"}
    _, created = await answer(await client.post("/v1/videos/text2video", json=body, headers=bearer()))
    path = f"/cdn/videos/{created['data']['task_id']}.mp4"
    assert (await client.get(path)).status == 404
    await asyncio.sleep(0.25)
    response = await client.get(path, headers={"Range": "bytes=10-"})
    assert response.status == 206
    assert await response.read() == sample_clip(5, 16, 9)[10:]
    assert response.headers["Content-Type"] == "video/mp4"
    assert (await client.get("/cdn/videos/unknown.mp4")).status == 404


async def test_unknown_route_is_invalid_method(client):
    status, body = await answer(await client.delete("/v1/videos/text2video", headers=bearer()))
    assert (status, body["code"]) == (404, 1202)


async def test_legacy_model_field_and_integer_duration(client):
    body = {"model": "kling-v1", "prompt": "p", "duration": 5}
    status, created = await answer(await client.post("/v1/videos/text2video", json=body, headers=bearer()))
    assert (status, created["code"]) == (200, 0)


async def test_failed_task_message(client):
    _, created = await answer(
        await client.post("/v1/videos/text2video", json={"prompt": "x [emulate:block]"}, headers=bearer())
    )
    await asyncio.sleep(0.25)
    _, queried = await answer(await client.get(f"/v1/videos/text2video/{created['data']['task_id']}", headers=bearer()))
    assert queried["data"]["task_status"] == "failed"
    assert "risk control" in queried["data"]["task_status_msg"]
    assert "task_result" not in queried["data"]


# ---------------------------------------------------------------- video extension


async def test_extension_end_to_end_and_again(serve, gateway, pm, http):
    async with serve() as channel:
        source = await gateway.submit(channel, "kling-v1", prompt="a red fox", size="720x1280")
        await gateway.poll(channel, source)
        for total in (10, 15):  # an extended video can be extended again
            ref = await pm.hook.reelay_extend(
                source=SourceVideo(task=source), prompt="the fox runs off", seconds=5, channel=channel, http=http
            )
            assert ref.data == {"family": "video-extend"}
            extension = Task(
                id=f"video_ext{total}", owner="alice", model="kling-v1", vendor="kling", channel=channel.name
            )
            extension.vendor_ref = ref
            await gateway.poll(channel, extension)
            assert extension.status is TaskStatus.COMPLETED
            assert extension.result.duration == total  # Kling's result is the whole extended video
            status, body = await gateway.content(channel, extension)
            assert (status, body[4:8]) == (200, b"ftyp")
            assert body == sample_clip(total, 720, 1280)  # the source's orientation
            source = extension


@pytest.fixture
async def accounts(aiohttp_client, spec):
    """An emulator that also knows another account, ``other-ak``."""
    options = {"accounts": {"other-ak": "other-sk-0123456789abcdefghijklmnop"}}
    return await aiohttp_client(create_app(spec.settings(generation_seconds=0.2, options=options)))


async def finished_video(client, headers=None, **body) -> tuple[str, str]:
    """Create a text2video task, wait for it, and answer its task id and video id."""
    body = {"model_name": "kling-v1", "prompt": "p", **body}
    _, created = await answer(await client.post("/v1/videos/text2video", json=body, headers=headers or bearer()))
    task_id = created["data"]["task_id"]
    await asyncio.sleep(0.25)
    _, queried = await answer(await client.get(f"/v1/videos/text2video/{task_id}", headers=headers or bearer()))
    return task_id, queried["data"]["task_result"]["videos"][0]["id"]


async def test_extension_query_list_and_units(client):
    task_id, video_id = await finished_video(client, mode="pro")
    body = {"video_id": video_id, "prompt": "on", "negative_prompt": "blur", "cfg_scale": 0.4}
    status, created = await answer(await client.post("/v1/videos/video-extend", json=body, headers=bearer()))
    assert (status, created["code"], created["data"]["task_status"]) == (200, 0, "submitted")
    extension_id = created["data"]["task_id"]
    await asyncio.sleep(0.25)
    _, queried = await answer(await client.get(f"/v1/videos/video-extend/{extension_id}", headers=bearer()))
    task = queried["data"]
    assert task["task_status"] == "succeed"
    assert task["task_info"]["parent_video"]["id"] == video_id
    assert task["task_info"]["parent_video"]["duration"] == "5"
    assert task["task_result"]["videos"][0]["duration"] == "10"
    assert task["final_unit_deduction"] == "7"  # the source's pro mode, 10 s in all
    status, other_family = await answer(await client.get(f"/v1/videos/text2video/{extension_id}", headers=bearer()))
    assert (status, other_family["code"]) == (404, 1203)
    _, listed = await answer(await client.get("/v1/videos/video-extend", headers=bearer()))
    assert [t["task_id"] for t in listed["data"]] == [extension_id]
    assert task_id != extension_id


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "video_id is required"),
        ({"video_id": "999999999999999999-0"}, "does not exist"),
        ({"video_id": "{video}", "prompt": "x" * 2501}, "prompt"),
        ({"video_id": "{video}", "negative_prompt": "x" * 2501}, "negative_prompt"),
        ({"video_id": "{video}", "cfg_scale": 2}, "cfg_scale"),
        ({"video_id": "{video}", "model_name": "kling-v1-6"}, "model_name"),
        ({"video_id": "{video}", "duration": "5"}, "duration"),
        ({"video_id": "{video}", "external_task_id": "e-1"}, "external_task_id"),
    ],
)
async def test_extension_invalid_parameters(client, body, fragment):
    _, video_id = await finished_video(client)
    body = {key: value.format(video=video_id) if isinstance(value, str) else value for key, value in body.items()}
    status, refused = await answer(await client.post("/v1/videos/video-extend", json=body, headers=bearer()))
    assert (status, refused["code"]) == (400, 1201)
    assert fragment in refused["message"]


async def test_extension_of_another_accounts_video_is_refused(accounts):
    other = bearer("other-ak", "other-sk-0123456789abcdefghijklmnop")
    _, video_id = await finished_video(accounts, headers=other)
    body = {"video_id": video_id, "prompt": "mine now"}
    status, refused = await answer(await accounts.post("/v1/videos/video-extend", json=body, headers=bearer()))
    assert (status, refused["code"]) == (400, 1201)
    assert "does not belong to this account" in refused["message"]
    status, accepted = await answer(await accounts.post("/v1/videos/video-extend", json=body, headers=other))
    assert (status, accepted["code"]) == (200, 0)


async def test_extension_refuses_what_kling_cannot_extend(client):
    _, created = await answer(
        await client.post("/v1/videos/text2video", json={"model_name": "kling-v1", "prompt": "p"}, headers=bearer())
    )
    running = f"{created['data']['task_id']}-0"
    status, refused = await answer(
        await client.post("/v1/videos/video-extend", json={"video_id": running}, headers=bearer())
    )
    assert (status, refused["code"]) == (400, 1201)  # no video yet
    assert "does not exist" in refused["message"]

    _, master = await finished_video(client, model_name="kling-v2-master")
    status, refused = await answer(
        await client.post("/v1/videos/video-extend", json={"video_id": master}, headers=bearer())
    )
    assert (status, refused["code"]) == (400, 1201)
    assert "not supported for videos generated by kling-v2-master" in refused["message"]

    jobs = client.server.app[STATE].jobs
    source_id, long_video = await finished_video(client)
    jobs[source_id].data["duration"] = "178"
    status, refused = await answer(
        await client.post("/v1/videos/video-extend", json={"video_id": long_video}, headers=bearer())
    )
    assert "exceed 3 minutes" in refused["message"]
    jobs[source_id].data["duration"] = "5"
    jobs[source_id].created -= 31 * 86400
    status, refused = await answer(
        await client.post("/v1/videos/video-extend", json={"video_id": long_video}, headers=bearer())
    )
    assert "cleaned up" in refused["message"]
