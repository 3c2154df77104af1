"""The HTTP API on a real server: task objects, listings and every error path."""

import asyncio
import json

import pytest
from acme_gateway import BASIC_TOKEN, OTHER_TOKEN

from reelay.testing import TEST_TOKEN

ERROR_KEYS = {"message", "type", "code", "param"}


def assert_error(status, body, expected_status, code=None, param=None):
    assert status == expected_status, body
    assert set(body["error"]) == ERROR_KEYS, body
    if code is not None:
        assert body["error"]["code"] == code, body
    if param is not None:
        assert body["error"]["param"] == param, body


async def raw(gateway, method, path, *, token=TEST_TOKEN, data=None, headers=None):
    all_headers = {"Authorization": f"Bearer {token}"} if token else {}
    all_headers.update(headers or {})
    async with gateway.client.http.request(method, gateway.base_url + path, data=data, headers=all_headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def test_submit_answers_at_once_with_the_task_object(gateway):
    status, task = await gateway.client.submit(model="acme-1", prompt="a fox", seconds="6", size="1280x720")
    assert status == 200
    assert task["id"].startswith("video_") and len(task["id"]) >= 28
    assert task["status"] == "queued" and task["progress"] == 0
    assert task["seconds"] == "6" and task["size"] == "1280x720" and task["model"] == "acme-1"
    assert isinstance(task["created_at"], int) and task["completed_at"] is None
    same = await gateway.client.get(task["id"])
    assert same["id"] == task["id"]
    status, legacy = await gateway.client.request("GET", f"/v1/video/generations/{task['id']}")
    assert status == 200 and legacy["task_id"] == task["id"]


async def test_task_shows_effective_values_after_snapping(gateway):
    status, task = await gateway.client.submit(model="acme-1", prompt="a fox", seconds="7", size="1920x1080")
    assert status == 200
    assert task["seconds"] == "8" and task["size"] == "1920x1080"
    assert {a["field"] for a in task["adjustments"]} == {"seconds"}


async def test_unknown_fields_are_ignored(gateway):
    status, task = await gateway.client.submit(model="acme-1", prompt="a fox", colour="blue", n=3)
    assert status == 200, task


async def test_vendor_id_and_url_never_exposed(gateway):
    _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
    final, _ = await gateway.client.wait(task["id"])
    text = json.dumps(final)
    assert gateway.emulators["acme"] not in text
    assert final["url"] == f"{gateway.base_url}/v1/videos/{task['id']}/content"


async def test_models_lists_what_the_group_can_use(gateway):
    status, body = await gateway.client.request("GET", "/v1/models")
    assert status == 200 and body["object"] == "list"
    assert {m["id"] for m in body["data"]} == {"acme-1", "acme-still"}
    status, body, _ = await raw(gateway, "GET", "/v1/models", token=BASIC_TOKEN)
    assert {m["id"] for m in body["data"]} == {"acme-still"}


async def test_models_say_which_need_an_image(gateway):
    status, body = await gateway.client.request("GET", "/v1/models")
    assert status == 200
    modes = {m["id"]: m["x_reelay"]["modes"] for m in body["data"]}
    assert modes == {"acme-1": ["text-to-video", "image-to-video"], "acme-still": ["image-to-video"]}


async def test_healthz_needs_no_token(gateway):
    status, body, _ = await raw(gateway, "GET", "/healthz", token=None)
    assert status == 200 and body["status"] == "ok"


async def test_alias_resolves_to_model(gateway):
    status, task = await gateway.client.submit(model="acme-still-2024", image="https://x.test/a.png")
    assert status == 200 and task["model"] == "acme-still"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "no model"}, "model"),
        ({"model": "acme-1"}, "prompt"),
        ({"model": "acme-1", "prompt": 5}, "prompt"),
        ({"model": "acme-1", "prompt": "x", "duration": "long"}, "duration"),
        ({"model": "acme-1", "prompt": "x", "seconds": [4]}, "seconds"),
        ({"model": "acme-1", "prompt": "x", "size": "huge"}, "size"),
        ({"model": "acme-1", "prompt": "x", "images": [1, 2]}, "images"),
        ({"model": "acme-1", "prompt": "x", "image": "not-an-image!"}, "image"),
        ({"model": "acme-1", "prompt": "x", "metadata": "style"}, "metadata"),
        ({"model": "acme-still", "prompt": "text only"}, "image"),
    ],
)
async def test_invalid_body_is_400_naming_the_field(gateway, body, param):
    status, answer = await gateway.client.request("POST", "/v1/video/generations", json=body)
    assert_error(status, answer, 400, param=param)
    assert answer["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("data", [b"{not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_malformed_json_is_400(gateway, data):
    status, body, _ = await raw(gateway, "POST", "/v1/video/generations", data=data)
    assert_error(status, body, 400)


async def test_a_form_body_on_a_json_route_is_told_what_to_send(gateway):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, body, _ = await raw(gateway, "POST", "/v1/video/generations", data=b"model=acme-1&prompt=x", headers=form)
    assert_error(status, body, 400)
    assert "application/json" in body["error"]["message"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer wrong-token", "bearer  "])
async def test_bad_token_is_401(gateway, header):
    headers = {"Authorization": header} if header is not None else {}
    status, body, _ = await raw(gateway, "GET", "/v1/models", token=None, headers=headers)
    assert_error(status, body, 401, code="invalid_api_key")


async def test_unknown_model_is_404(gateway):
    status, body = await gateway.client.submit(model="nope-9", prompt="x")
    assert_error(status, body, 404, code="model_not_found", param="model")


async def test_model_outside_group_is_403(gateway):
    body = json.dumps({"model": "acme-1", "prompt": "x"}).encode()
    status, answer, _ = await raw(gateway, "POST", "/v1/video/generations", token=BASIC_TOKEN, data=body)
    assert_error(status, answer, 403, code="model_not_available", param="model")


async def test_unknown_task_and_other_callers_task_look_the_same(gateway):
    _, task = await gateway.client.submit(model="acme-1", prompt="mine")
    status, unknown, _ = await raw(gateway, "GET", "/v1/videos/video_doesnotexist")
    status2, foreign, _ = await raw(gateway, "GET", f"/v1/videos/{task['id']}", token=OTHER_TOKEN)
    assert_error(status, unknown, 404, code="task_not_found")
    assert_error(status2, foreign, 404, code="task_not_found")
    status3, _, _ = await raw(gateway, "GET", f"/v1/videos/{task['id']}/content", token=OTHER_TOKEN)
    assert status3 == 404


async def test_content_before_completion_is_409(gateway):
    _, task = await gateway.client.submit(model="acme-1", prompt="slow")
    status, _headers, body = await gateway.client.content(task["id"])
    assert status == 409
    assert_error(status, json.loads(body), 409, code="task_not_ready")


async def test_range_outside_the_file_is_416(gateway):
    _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
    await gateway.client.wait(task["id"])
    status, _, body = await gateway.client.content(task["id"], range_="bytes=999999-")
    assert status == 416
    assert set(json.loads(body)["error"]) == ERROR_KEYS


async def test_body_too_large_is_413(acme_pm, tmp_path):
    from acme_gateway import acme_gateway

    from reelay.config import ServerConfig

    async with acme_gateway(acme_pm, tmp_path, server=ServerConfig(port=0, max_body_mb=0.01)) as gw:
        big = json.dumps({"model": "acme-1", "prompt": "x", "image": "A" * 20000}).encode()
        status, body, _ = await raw(gw, "POST", "/v1/video/generations", data=big)
        assert_error(status, body, 413, code="request_too_large")


async def test_default_body_limit_allows_base64_images(gateway):
    image = "data:image/png;base64," + "iVBORw0KGgo" + "A" * (3 * 1024 * 1024)
    status, task = await gateway.client.submit(model="acme-1", prompt="big image", image=image)
    assert status == 200, task


async def test_unknown_route_and_method_are_json(gateway):
    status, body, _ = await raw(gateway, "GET", "/v1/nothing-here")
    assert_error(status, body, 404)
    status, body, _ = await raw(gateway, "PUT", "/v1/video/generations")
    assert_error(status, body, 405)


async def test_all_channels_failing_is_502_without_secrets(acme_pm, tmp_path):
    from acme_gateway import ACME_KEY, acme_gateway

    async with acme_gateway(acme_pm, tmp_path, channel_overrides={"base_url": "http://127.0.0.1:9"}) as gw:
        status, body = await gw.client.submit(model="acme-1", prompt="x")
        assert_error(status, body, 502, code="upstream_failed")
        assert ACME_KEY not in json.dumps(body) and "127.0.0.1:9" not in json.dumps(body)


async def test_cancel_route(gateway):
    _, task = await gateway.client.submit(model="acme-1", prompt="stop me")
    status, body = await gateway.client.request("POST", f"/v1/videos/{task['id']}/cancel")
    assert status == 200 and body["status"] == "cancelled"
    status, body = await gateway.client.request("POST", f"/v1/videos/{task['id']}/cancel")
    assert_error(status, body, 409, code="task_ended")


# ---------------------------------------------------------------- issue 14: API details


@pytest.mark.parametrize("limit", ["0", "-1", "101"])
async def test_a_list_limit_outside_1_to_100_is_a_400_naming_limit(gateway, limit):
    status, body, _ = await raw(gateway, "GET", f"/v1/videos?limit={limit}")
    assert_error(status, body, 400, code="invalid_value", param="limit")
    assert body["error"]["type"] == "invalid_request_error"


async def test_a_405_is_the_callers_error_and_says_what_is_allowed(gateway):
    status, body, headers = await raw(gateway, "PUT", "/v1/video/generations")
    assert_error(status, body, 405, code="method_not_allowed")
    assert body["error"]["type"] == "invalid_request_error"
    assert headers["Allow"] == "POST"


async def test_a_cancel_the_vendor_refuses_in_the_tasks_state_is_a_409(gateway, monkeypatch):
    from reelay import FailureKind, UpstreamError

    async def refused():
        raise UpstreamError(FailureKind.CALLER, "only a pending task can be cancelled", code="bad_state")

    acme_hooks = gateway.dispatcher.context.hooks(gateway.dispatcher.channels["acme-main"])
    monkeypatch.setattr(acme_hooks, "reelay_cancel", lambda **kwargs: refused(), raising=False)
    _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
    status, body = await gateway.client.request("POST", f"/v1/videos/{task['id']}/cancel")
    assert_error(status, body, 409, code="cancel_refused")
    assert "only a pending task" in body["error"]["message"]
    status, _ = await gateway.client.request("GET", f"/v1/videos/{task['id']}")
    assert status == 200  # still there, still tracked


async def test_cancel_not_supported_says_it_once(gateway, monkeypatch):
    # No plugin answers the cancel hook for the acme channel (the vendor hooks a channel's calls go through).
    acme_hooks = gateway.dispatcher.context.hooks(gateway.dispatcher.channels["acme-main"])
    monkeypatch.setattr(acme_hooks, "reelay_cancel", lambda **kwargs: None, raising=False)
    _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
    status, body = await gateway.client.request("POST", f"/v1/videos/{task['id']}/cancel")
    assert_error(status, body, 400, code="cancel_not_supported")
    expected = f"task {task['id']} cannot be cancelled: vendor acme offers no cancel, so it keeps running"
    assert body["error"]["message"] == expected


def test_the_readme_error_table_lists_every_error_code_the_routes_answer():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    table = readme.split("Errors\nare always", 1)[1].split("### ", 1)[0]
    for needle in ("`task_ended`", "| 405 |", "| 408 |", "`method_not_allowed`", "`request_timeout`"):
        assert needle in table, needle


@pytest.mark.parametrize(
    "route", ["/v1/videos", "/v1/videos/extensions", "/v1/videos/edits", "/v1/videos/characters", "/v1/videos/x/remix"]
)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"garbage"),
        ("multipart/form-data", b"--xyz\r\n"),
        ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhal'),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: x\x01\r\n\r\nx\r\n--xyz--\r\n"),
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nno colon here\r\n\r\nx\r\n--xyz--\r\n"),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\nContent-Transfer-Encoding: bogus\r\n\r\n'
            b"x\r\n--xyz--\r\n",
        ),
    ],
    ids=[
        "no-starting-boundary",
        "no-boundary-parameter",
        "truncated-part",
        "bad-header-value",
        "bad-header-line",
        "bad-transfer-encoding",
    ],
)
async def test_a_malformed_multipart_body_is_a_400_never_a_500(gateway, route, content_type, body):
    status, answer = await gateway.client.request("POST", route, data=body, headers={"Content-Type": content_type})
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert "b'" not in answer["error"]["message"], "the reason in words, not a bytes repr"


async def test_a_qualified_model_name_works_unescaped_in_the_path(gateway):
    plain = await gateway.client.request("GET", "/v1/models/acme/acme-1")
    escaped = await gateway.client.request("GET", "/v1/models/acme%2Facme-1")
    assert plain[0] == escaped[0] == 200 and plain[1]["id"] == escaped[1]["id"]


async def test_numbers_in_unicode_digits_are_the_callers_400_not_a_500(gateway):
    """str.isdigit() takes "³" and int() does not: every number the caller sends is read as ASCII digits."""
    for after in ("entry_%C2%B3", "entry_9223372036854775808", "99999999999999999999"):
        status, body = await gateway.client.request("GET", f"/v1/usage/entries?after={after}")
        assert_error(status, body, 400, param="after")
    _, task = await gateway.client.submit(model="acme-1", prompt="a fox")
    # Raw bytes: the UTF-8 of "³" in the header, as curl sends it.
    host, port = gateway.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"GET /v1/videos/{task['id']}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_TOKEN}\r\n"
    writer.write(head.encode() + "Last-Event-ID: \u00b3\r\n\r\n".encode())
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.split()[1] == b"200", status_line  # an unreadable Last-Event-ID is no Last-Event-ID
    extension = {"prompt": "on", "seconds": "\u00b3", "video": {"id": task["id"]}}
    status, body = await gateway.client.request("POST", "/v1/videos/extensions", json=extension)
    assert status == 400 and body["error"]["param"] == "seconds", body
