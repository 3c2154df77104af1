"""The emulator's strictness, spoken to directly over HTTP (aiohttp_client)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from reelay.emulation import EmulatorSettings, sample_asset, sample_clip
from reelay_sora.emulator import create_app

KEY = "sk-demo-sora"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def make_client(aiohttp_client):
    async def make(**settings):
        settings.setdefault("credentials", {"api_key": KEY})
        settings.setdefault("generation_seconds", 0.3)
        return await aiohttp_client(create_app(EmulatorSettings(**settings)))

    return make


@pytest.fixture
async def client(make_client):
    return await make_client()


async def _error(response: aiohttp.ClientResponse, status: int) -> dict:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


async def _create(client, **fields) -> dict:
    response = await client.post("/v1/videos", json={"prompt": "a cat", **fields}, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def _wait(client, video_id: str) -> dict:
    for _ in range(100):
        video = await (await client.get(f"/v1/videos/{video_id}", headers=AUTH)).json()
        if video["status"] in ("completed", "failed"):
            return video
        await asyncio.sleep(0.05)
    raise AssertionError("the video never finished")


# ---------------------------------------------------------------- auth


async def test_a_missing_key_is_401(client):
    error = await _error(await client.post("/v1/videos", json={"prompt": "a cat"}), 401)
    assert error["type"] == "invalid_request_error"


async def test_a_wrong_key_is_401(client):
    response = await client.get("/v1/videos", headers={"Authorization": "Bearer sk-wrong"})
    assert (await _error(response, 401))["code"] == "invalid_api_key"


async def test_organization_and_project_are_checked_when_configured(make_client):
    client = await make_client(credentials={"api_key": KEY, "organization": "org-1", "project": "proj_1"})
    response = await client.get("/v1/videos", headers=AUTH)
    assert (await _error(response, 401))["code"] == "mismatched_organization"
    headers = {**AUTH, "OpenAI-Organization": "org-1", "OpenAI-Project": "proj_1"}
    assert (await client.get("/v1/videos", headers=headers)).status == 200


# ---------------------------------------------------------------- create


async def test_a_video_starts_queued_with_the_requested_values(client):
    video = await _create(client, model="sora-2-pro", seconds="12", size="1792x1024")
    assert video["id"].startswith("video_") and video["object"] == "video"
    assert (video["status"], video["progress"], video["model"]) == ("queued", 0, "sora-2-pro")
    assert (video["seconds"], video["size"], video["error"]) == ("12", "1792x1024", None)


async def test_defaults(client):
    video = await _create(client)
    assert (video["model"], video["seconds"], video["size"]) == ("sora-2", "4", "720x1280")


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"duration": 4}, "duration", "unknown_parameter"),
        ({"seconds": 4}, "seconds", "invalid_type"),
        ({"seconds": "10"}, "seconds", "invalid_value"),
        ({"size": "1792x1024"}, "size", "invalid_value"),
        ({"size": "16:9"}, "size", "invalid_value"),
        ({"model": "sora-3"}, "model", "invalid_value"),
        ({"prompt": 5}, "prompt", "invalid_type"),
        ({"prompt": ""}, "prompt", "empty_string"),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
        ({"input_reference": "https://img.example/a.png"}, "input_reference", "invalid_type"),
        ({"input_reference": {"url": "https://img.example/a.png"}}, "input_reference.url", "unknown_parameter"),
        ({"input_reference": {"image_url": "ftp://img.example/a.png"}}, "input_reference.image_url", "invalid_value"),
        ({"input_reference": {"image_url": "https://a", "file_id": "file_1"}}, "input_reference", "invalid_value"),
        ({"input_reference": {"file_id": "file_1"}}, "input_reference.file_id", "invalid_value"),
    ],
)
async def test_strict_json_validation(client, fields, param, code):
    response = await client.post("/v1/videos", json={"prompt": "a cat", **fields}, headers=AUTH)
    error = await _error(response, 400)
    assert (error["param"], error["code"], error["type"]) == (param, code, "invalid_request_error")


async def test_seconds_as_an_integer_says_so(client):
    response = await client.post("/v1/videos", json={"prompt": "a cat", "seconds": 8}, headers=AUTH)
    assert "but got an integer instead" in (await _error(response, 400))["message"]


async def test_a_missing_prompt(client):
    error = await _error(await client.post("/v1/videos", json={"model": "sora-2"}, headers=AUTH), 400)
    assert (error["param"], error["code"]) == ("prompt", "missing_required_parameter")


async def test_sizes_per_model(client):
    await _create(client, model="sora-2", size="1280x720")
    await _create(client, model="sora-2-pro-2025-10-06", size="1024x1792")
    response = await client.post(
        "/v1/videos", json={"prompt": "a cat", "model": "sora-2-2025-12-08", "size": "1024x1792"}, headers=AUTH
    )
    assert (await _error(response, 400))["param"] == "size"


async def test_an_image_url_or_data_url_is_accepted(client):
    await _create(client, input_reference={"image_url": "https://img.example/a.png"})
    await _create(client, input_reference={"image_url": "data:image/png;base64,iVBORw0KGgo="})


def _form(**fields) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, tuple):
            form.add_field(name, value[0], filename="frame", content_type=value[1])
        else:
            form.add_field(name, value)
    return form


async def test_multipart_with_an_image_file(client):
    form = _form(
        prompt="a cat", model="sora-2", seconds="8", size="1280x720", input_reference=(b"\x89PNG..", "image/png")
    )
    response = await client.post("/v1/videos", data=form, headers=AUTH)
    assert response.status == 200, await response.text()
    assert (await response.json())["seconds"] == "8"


async def test_multipart_with_a_flattened_image_url(client):
    form = _form(prompt="a cat", **{"input_reference[image_url]": "https://img.example/a.png"})
    response = await client.post("/v1/videos", data=form, headers=AUTH)
    assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input_reference[url]": "https://img.example/a.png"}, "input_reference.url"),
        ({"input_reference[file_id]": "file_1"}, "input_reference.file_id"),
        ({"input_reference": (b"text", "text/plain")}, "input_reference"),
        ({"image": (b"\x89PNG..", "image/png")}, "image"),
        ({"seconds": "5"}, "seconds"),
        ({"input_reference": "https://img.example/a.png"}, "input_reference"),
    ],
)
async def test_strict_multipart_validation(client, fields, param):
    response = await client.post("/v1/videos", data=_form(prompt="a cat", **fields), headers=AUTH)
    assert (await _error(response, 400))["param"] == param


async def test_other_content_types_are_refused(client):
    response = await client.post("/v1/videos", data="prompt=a cat", headers={**AUTH, "Content-Type": "text/plain"})
    await _error(response, 400)


async def test_broken_json_is_refused(client):
    response = await client.post("/v1/videos", data=b"{", headers={**AUTH, "Content-Type": "application/json"})
    await _error(response, 400)


# ---------------------------------------------------------------- scenarios


async def test_reject_is_a_moderation_refusal_at_submission(client):
    response = await client.post("/v1/videos", json={"prompt": "a cat [emulate:reject]"}, headers=AUTH)
    assert (await _error(response, 400))["code"] == "moderation_blocked"


async def test_invalid_is_an_invalid_request_at_submission(client):
    response = await client.post("/v1/videos", json={"prompt": "a cat [emulate:invalid]"}, headers=AUTH)
    assert (await _error(response, 400))["type"] == "invalid_request_error"


@pytest.mark.parametrize(("marker", "code"), [("fail", "video_generation_failed"), ("block", "moderation_blocked")])
async def test_fail_and_block_end_in_a_failed_video(client, marker, code):
    video = await _create(client, prompt=f"a cat [emulate:{marker}]")
    finished = await _wait(client, video["id"])
    assert finished["status"] == "failed" and finished["error"]["code"] == code and finished["error"]["message"]


async def test_the_first_submissions_fail_when_asked(make_client):
    client = await make_client(fail_submissions=2)
    for _ in range(2):
        response = await client.post("/v1/videos", json={"prompt": "a cat"}, headers=AUTH)
        assert (await _error(response, 500))["type"] == "server_error"
    await _create(client)


# ---------------------------------------------------------------- lifecycle


async def test_statuses_advance_with_rising_progress(make_client):
    client = await make_client(generation_seconds=0.6)
    video = await _create(client)
    seen = []
    while True:
        current = await (await client.get(f"/v1/videos/{video['id']}", headers=AUTH)).json()
        seen.append((current["status"], current["progress"]))
        if current["status"] == "completed":
            break
        await asyncio.sleep(0.03)
    statuses = [status for status, _ in seen]
    assert statuses[0] == "queued" and "in_progress" in statuses and statuses[-1] == "completed"
    progress = [value for _, value in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert current["completed_at"] is not None and current["expires_at"] > current["completed_at"]


async def test_content_variants_with_range(client):
    video = await _create(client)
    response = await client.get(f"/v1/videos/{video['id']}/content", headers=AUTH)
    assert (await _error(response, 409))["code"] == "video_not_ready"
    await _wait(client, video["id"])
    response = await client.get(f"/v1/videos/{video['id']}/content", headers=AUTH)
    expected = sample_clip(4, 720, 1280)  # the default seconds and size
    assert response.content_type == "video/mp4" and await response.read() == expected
    response = await client.get(
        f"/v1/videos/{video['id']}/content?variant=video", headers={**AUTH, "Range": "bytes=0-9"}
    )
    assert response.status == 206 and await response.read() == expected[:10]
    response = await client.get(f"/v1/videos/{video['id']}/content?variant=thumbnail", headers=AUTH)
    assert response.content_type == "image/webp" and await response.read() == sample_asset("sample.webp")
    response = await client.get(f"/v1/videos/{video['id']}/content?variant=spritesheet", headers=AUTH)
    assert response.content_type == "image/jpeg" and await response.read() == sample_asset("sample.jpg")
    response = await client.get(f"/v1/videos/{video['id']}/content?variant=poster", headers=AUTH)
    assert (await _error(response, 400))["param"] == "variant"


async def test_settings_video_is_served(make_client):
    client = await make_client(video=b"not really an mp4")
    video = await _create(client)
    await _wait(client, video["id"])
    assert await (await client.get(f"/v1/videos/{video['id']}/content", headers=AUTH)).read() == b"not really an mp4"


async def test_unknown_videos_are_404(client):
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/content"), ("POST", "/remix")):
        response = await client.request(method, f"/v1/videos/video_nope{path}", json={"prompt": "x"}, headers=AUTH)
        await _error(response, 404)


async def test_list_with_limit_order_and_after(client):
    ids = [(await _create(client))["id"] for _ in range(3)]
    page = await (await client.get("/v1/videos?limit=2", headers=AUTH)).json()
    assert page["object"] == "list" and [v["id"] for v in page["data"]] == ids[::-1][:2]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
    rest = await (await client.get(f"/v1/videos?limit=2&after={page['last_id']}", headers=AUTH)).json()
    assert [v["id"] for v in rest["data"]] == [ids[0]] and rest["has_more"] is False
    ascending = await (await client.get("/v1/videos?order=asc", headers=AUTH)).json()
    assert [v["id"] for v in ascending["data"]] == ids
    for query in ("limit=101", "limit=x", "order=up", "after=video_nope"):
        await _error(await client.get(f"/v1/videos?{query}", headers=AUTH), 400)


async def test_delete(client):
    video = await _create(client)
    response = await client.delete(f"/v1/videos/{video['id']}", headers=AUTH)
    assert await response.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    await _error(await client.get(f"/v1/videos/{video['id']}", headers=AUTH), 404)


async def test_remix(client):
    video = await _create(client, model="sora-2-pro", size="1792x1024", seconds="8")
    response = await client.post(f"/v1/videos/{video['id']}/remix", json={"prompt": "at night"}, headers=AUTH)
    assert (await _error(response, 409))["type"] == "invalid_request_error"
    await _wait(client, video["id"])
    response = await client.post(f"/v1/videos/{video['id']}/remix", json={"prompt": "x", "seconds": "4"}, headers=AUTH)
    assert (await _error(response, 400))["code"] == "unknown_parameter"
    response = await client.post(f"/v1/videos/{video['id']}/remix", json={"prompt": "at night"}, headers=AUTH)
    remix = await response.json()
    assert remix["remixed_from_video_id"] == video["id"] and remix["id"] != video["id"]
    assert (remix["model"], remix["size"], remix["seconds"], remix["prompt"]) == (
        "sora-2-pro",
        "1792x1024",
        "8",
        "at night",
    )


async def test_unknown_routes_answer_in_openais_shape(client):
    await _error(await client.get("/v1/nothing", headers=AUTH), 404)
    await _error(await client.put("/v1/videos", headers=AUTH), 405)
