"""submit / fetch_status / open_content against recorded Kling answers (aioresponses)."""

from __future__ import annotations

import json
import re

import aiohttp
import jwt
import pytest
from yarl import URL

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    InvalidRequest,
    Task,
    TaskStatus,
    UpstreamError,
    VendorRef,
    VideoResult,
)
from reelay_kling.models import BY_NAME

BASE = "https://kling.test"
T2V = f"{BASE}/v1/videos/text2video"
I2V = f"{BASE}/v1/videos/image2video"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def submit(pm, channel, normalized, http):
    async def run(model: str, **fields) -> VendorRef:
        request = normalized(model, **fields)
        payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=channel)
        return await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)

    return run


def make_task(vendor_ref=None, request=None, result=None) -> Task:
    return Task(
        id="video_test123",
        owner="alice",
        model="kling-v1",
        vendor="kling",
        channel="kling-test",
        vendor_ref=vendor_ref,
        request=request,
        result=result,
        status=TaskStatus.IN_PROGRESS,
    )


def sent(mocked, method: str, url: str, index: int = 0):
    return mocked.requests[(method, URL(url))][index].kwargs


def sent_json(mocked, method: str, url: str, index: int = 0):
    """The JSON body of a recorded request, however the core's HTTP helper passed it."""
    kwargs = sent(mocked, method, url, index)
    if kwargs.get("json") is not None:
        return kwargs["json"]
    data = kwargs["data"]
    return json.loads(data.getvalue() if hasattr(data, "getvalue") else data)


# ---------------------------------------------------------------- submit


async def test_submit_text_to_video(mocked, submit, load_fixture, channel):
    mocked.post(T2V, payload=load_fixture("kling-create"))
    ref = await submit("kling-v1-6", prompt="a fox", size="720x1280", seconds=10)
    assert ref == VendorRef("831922345719271433", {"family": "text2video"})
    request = sent(mocked, "POST", T2V)
    assert sent_json(mocked, "POST", T2V) == {
        "model_name": "kling-v1-6",
        "prompt": "a fox",
        "duration": "10",
        "aspect_ratio": "9:16",
        "external_task_id": "video_test123",
    }
    scheme, token = request["headers"]["Authorization"].split(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, channel.credentials["secret_key"], algorithms=["HS256"])
    assert claims["iss"] == channel.credentials["access_key"]


async def test_submit_image_to_video(mocked, submit, load_fixture):
    mocked.post(I2V, payload=load_fixture("kling-create"))
    ref = await submit("kling-v1", prompt="go", image="https://i.test/a.png", images=("https://i.test/b.png",))
    assert ref.data == {"family": "image2video"}
    body = sent_json(mocked, "POST", I2V)
    assert body["image"] == "https://i.test/a.png"
    assert body["image_tail"] == "https://i.test/b.png"
    assert "aspect_ratio" not in body


ERROR_FAMILIES = [
    *[(401, code, FailureKind.CHANNEL) for code in range(1000, 1005)],
    *[(429, code, FailureKind.CHANNEL) for code in (1100, 1101, 1102)],
    (403, 1103, FailureKind.CHANNEL),
    (400, 1200, FailureKind.CALLER),
    (400, 1201, FailureKind.CALLER),
    (404, 1202, FailureKind.CALLER),
    (404, 1203, FailureKind.CALLER),
    (400, 1300, FailureKind.CONTENT_POLICY),
    (400, 1301, FailureKind.CONTENT_POLICY),
    (429, 1302, FailureKind.RATE_LIMITED),
    (429, 1303, FailureKind.RATE_LIMITED),
    (429, 1304, FailureKind.CHANNEL),
    (500, 5000, FailureKind.TRANSIENT),
    (503, 5001, FailureKind.TRANSIENT),
    (504, 5002, FailureKind.TRANSIENT),
]


@pytest.mark.parametrize(("status", "code", "kind"), ERROR_FAMILIES)
async def test_submit_error_families(mocked, submit, channel, status, code, kind):
    body = {"code": code, "message": f"kling says {code}", "request_id": "req-1"}
    mocked.post(T2V, status=status, payload=body)
    with pytest.raises(UpstreamError) as caught:
        await submit("kling-v1", prompt="p")
    error = caught.value
    assert error.kind is kind
    assert error.http_status == status
    assert f"kling says {code}" in error.message
    assert str(code) in error.message
    for secret in channel.credentials.values():
        assert secret not in error.message
    if kind is FailureKind.CONTENT_POLICY:
        assert error.code == "content_policy_violation"
    if kind is FailureKind.RATE_LIMITED:
        assert error.retry_after == 1.0


async def test_rate_limit_honours_retry_after(mocked, submit, load_fixture):
    mocked.post(T2V, status=429, payload=load_fixture("kling-error-1303"), headers={"Retry-After": "7"})
    with pytest.raises(UpstreamError) as caught:
        await submit("kling-v1", prompt="p")
    assert caught.value.kind is FailureKind.RATE_LIMITED
    assert caught.value.retry_after == 7.0


async def test_invalid_parameter_carries_kling_message(mocked, submit, load_fixture):
    mocked.post(T2V, status=400, payload=load_fixture("kling-error-1201"))
    with pytest.raises(UpstreamError) as caught:
        await submit("kling-v1", prompt="p")
    assert caught.value.kind is FailureKind.CALLER
    assert "model_name kling-v9 is invalid" in caught.value.message


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (502, "<html>bad gateway</html>", FailureKind.TRANSIENT),
        (401, "", FailureKind.CHANNEL),
        (418, '{"error": "teapot"}', FailureKind.CALLER),
        (404, "", FailureKind.NOT_FOUND),
        (200, '{"code": 9999, "message": "new failure"}', FailureKind.TRANSIENT),
        (200, "not json", FailureKind.TRANSIENT),
        (200, '{"code": 0, "data": {}}', FailureKind.TRANSIENT),
    ],
)
async def test_unknown_answers_follow_http_status(mocked, submit, status, body, kind):
    mocked.post(T2V, status=status, body=body)
    with pytest.raises(UpstreamError) as caught:
        await submit("kling-v1", prompt="p")
    assert caught.value.kind is kind


async def test_connection_error_is_transient(mocked, submit):
    mocked.post(T2V, exception=aiohttp.ClientConnectionError("boom"))
    with pytest.raises(UpstreamError) as caught:
        await submit("kling-v1", prompt="p")
    assert caught.value.kind is FailureKind.TRANSIENT


async def test_missing_credentials_never_reach_kling(mocked, pm, normalized, http):
    broken = Channel(name="broken", vendor="kling", base_url=BASE, credentials={"access_key": "ak"})
    request = normalized("kling-v1", prompt="p")
    payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME["kling-v1"].spec, channel=broken)
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload=payload, request=request, channel=broken, http=http)
    assert caught.value.kind is FailureKind.CHANNEL
    assert not mocked.requests


# ---------------------------------------------------------------- status


async def test_fetch_status_uses_the_task_family(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{I2V}/831922345719271433", payload=load_fixture("kling-processing"))
    task = make_task(VendorRef("831922345719271433", {"family": "image2video"}))
    payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    assert pm.hook.reelay_map_status(payload=payload, task=task, channel=channel).status is TaskStatus.IN_PROGRESS
    assert "Authorization" in sent(mocked, "GET", f"{I2V}/831922345719271433")["headers"]


async def test_fetch_status_errors_are_mapped(mocked, pm, channel, http):
    mocked.get(f"{T2V}/1", status=500, payload={"code": 5000, "message": "internal error", "request_id": "r"})
    task = make_task(VendorRef("1", {"family": "text2video"}))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    assert caught.value.kind is FailureKind.TRANSIENT


async def test_fetch_status_unknown_task_is_not_found(mocked, pm, channel, http):
    mocked.get(f"{T2V}/1", status=404, payload={"code": 1203, "message": "task not found", "request_id": "r"})
    task = make_task(VendorRef("1", {"family": "text2video"}))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "path"),
    [({"prompt": "p"}, T2V), ({"image": "https://i.test/a.png"}, I2V)],
)
async def test_find_submission_by_external_id_uses_the_request_family(
    mocked, pm, channel, http, normalized, load_fixture, fields, path
):
    mocked.get(f"{path}/video_test123", payload=load_fixture("kling-succeed"))
    task = make_task(request=normalized("kling-v1", **fields))
    ref = await pm.hook.reelay_find_submission(task=task, channel=channel, http=http)
    family = "text2video" if path == T2V else "image2video"
    assert ref == VendorRef(load_fixture("kling-succeed")["data"]["task_id"], {"family": family})
    assert len(mocked.requests) == 1


async def test_find_submission_without_request_tries_both_families(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{T2V}/video_test123", status=404, payload={"code": 1203, "message": "not found", "request_id": "r"})
    mocked.get(f"{I2V}/video_test123", payload=load_fixture("kling-submitted"))
    ref = await pm.hook.reelay_find_submission(task=make_task(), channel=channel, http=http)
    assert ref.data == {"family": "image2video"}


async def test_find_submission_unknown_to_kling_is_none(mocked, pm, channel, http):
    mocked.get(f"{T2V}/video_test123", status=404, payload={"code": 1203, "message": "not found", "request_id": "r"})
    mocked.get(f"{I2V}/video_test123", status=400, payload={"code": 1201, "message": "bad id", "request_id": "r"})
    assert await pm.hook.reelay_find_submission(task=make_task(), channel=channel, http=http) is None


async def test_find_submission_stops_at_channel_failures(mocked, pm, channel, http):
    mocked.get(f"{T2V}/video_test123", status=401, payload={"code": 1004, "message": "expired", "request_id": "r"})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_find_submission(task=make_task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.CHANNEL


# ---------------------------------------------------------------- content


async def test_open_content_returns_the_cdn_url(mocked, pm, channel, http):
    task = make_task(VendorRef("1", {"family": "text2video"}), result=VideoResult(url="https://cdn.test/v.mp4"))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source == ContentSource(url="https://cdn.test/v.mp4", mime_type="video/mp4")
    assert not source.headers
    assert not mocked.requests


async def test_open_content_without_result_asks_kling(mocked, pm, channel, http, load_fixture):
    mocked.get(re.compile(rf"^{T2V}/1$"), payload=load_fixture("kling-succeed"))
    task = make_task(VendorRef("1", {"family": "text2video"}))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source.url.endswith("/831922345719271433/video.mp4")


async def test_open_content_unfinished_is_not_found(mocked, pm, channel, http, load_fixture):
    mocked.get(f"{T2V}/1", payload=load_fixture("kling-processing"))
    task = make_task(VendorRef("1", {"family": "text2video"}))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_other_variants_are_invalid(pm, channel, http):
    task = make_task(VendorRef("1", {"family": "text2video"}), result=VideoResult(url="https://cdn.test/v.mp4"))
    with pytest.raises(InvalidRequest) as caught:
        await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="thumbnail")
    assert caught.value.param == "variant"


def test_no_cancel_or_remix(pm, channel):
    task = make_task(VendorRef("1", {"family": "text2video"}))
    assert pm.hook.reelay_cancel(task=task, channel=channel, http=None) is None
    assert pm.hook.reelay_remix(task=task, prompt="again", channel=channel, http=None) is None
