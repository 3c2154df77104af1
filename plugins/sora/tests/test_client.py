"""The hooks against a mocked endpoint (aioresponses): URLs, bodies, headers, errors."""

from __future__ import annotations

import io
import json
import re

import aiohttp
import attrs
import pytest
from yarl import URL

import reelay_sora
from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    TaskStatus,
    UpstreamError,
    VendorRef,
)
from reelay_sora.models import MODELS

from .conftest import API_KEY, BASE_URL

VIDEOS = f"{BASE_URL}/v1/videos"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="


def _sent(mocked, method: str, url: str):
    return mocked.requests[(method, URL(url))][-1].kwargs


def _sent_json(mocked, method: str, url: str):
    sent = _sent(mocked, method, url)
    if sent.get("json") is not None:
        return sent["json"]
    data = sent["data"]
    return json.loads(data.getvalue() if isinstance(data, io.BytesIO) else data)


def _sent_headers(mocked, method: str, url: str) -> dict[str, str]:
    return {k: v for k, v in _sent(mocked, method, url)["headers"].items() if k.lower() != "content-type"}


def _request(**values) -> GenerationRequest:
    return GenerationRequest(**({"model": "sora-2", "prompt": "a cat", "duration": 4, "size": "720x1280"} | values))


async def _submit(channel: Channel, http, request: GenerationRequest) -> VendorRef:
    payload = reelay_sora.plugin.reelay_build_payload(request=request, model=MODELS[0], channel=channel)
    return await reelay_sora.plugin.reelay_submit(payload=payload, request=request, channel=channel, http=http)


def test_hooks_answer_only_for_sora_channels(channel, make_task):
    other = attrs.evolve(channel, vendor="kling")
    task = make_task()
    assert reelay_sora.plugin.reelay_build_payload(request=_request(), model=MODELS[0], channel=other) is None
    assert reelay_sora.plugin.reelay_submit(payload=None, request=_request(), channel=other, http=None) is None
    assert reelay_sora.plugin.reelay_fetch_status(task=task, channel=other, http=None) is None
    assert reelay_sora.plugin.reelay_map_status(payload={}, task=task, channel=other) is None
    assert reelay_sora.plugin.reelay_open_content(task=task, channel=other, http=None, variant="video") is None
    assert reelay_sora.plugin.reelay_cancel(task=task, channel=other, http=None) is None
    assert reelay_sora.plugin.reelay_remix(task=task, prompt="x", channel=other, http=None) is None


# ---------------------------------------------------------------- submit


async def test_submit_sends_json_with_the_key(channel, http, fixture, mocked):
    mocked.post(VIDEOS, payload=fixture("sora-queued"))
    ref = await _submit(channel, http, _request(first_frame=ImageInput(url="https://img.example/a.png")))
    assert ref == VendorRef("video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5")
    assert _sent_headers(mocked, "POST", VIDEOS) == {"Authorization": f"Bearer {API_KEY}"}
    assert _sent_json(mocked, "POST", VIDEOS) == {
        "prompt": "a cat",
        "model": "sora-2",
        "seconds": "4",
        "size": "720x1280",
        "input_reference": {"image_url": "https://img.example/a.png"},
    }


async def test_organization_and_project_headers(channel, http, fixture, mocked):
    channel = attrs.evolve(channel, credentials={"api_key": API_KEY, "organization": "org-1", "project": "proj_1"})
    mocked.post(VIDEOS, payload=fixture("sora-queued"))
    await _submit(channel, http, _request())
    assert _sent_headers(mocked, "POST", VIDEOS) == {
        "Authorization": f"Bearer {API_KEY}",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj_1",
    }


async def test_submit_sends_an_uploaded_image_as_a_multipart_file(channel, http, fixture, mocked):
    mocked.post(VIDEOS, payload=fixture("sora-queued"))
    upload = ImageInput(base64=PNG_B64, mime_type="image/png", filename="frame.png")
    await _submit(channel, http, _request(first_frame=upload))
    sent = _sent(mocked, "POST", VIDEOS)
    assert sent.get("json") is None
    form = sent["data"]
    assert isinstance(form, aiohttp.FormData)
    parts = {options["name"]: (options.get("filename"), headers, value) for options, headers, value in form._fields}
    assert {name: value for name, (_, _, value) in parts.items() if name != "input_reference"} == {
        "prompt": "a cat",
        "model": "sora-2",
        "seconds": "4",
        "size": "720x1280",
    }
    filename, headers, value = parts["input_reference"]
    assert filename == "frame.png" and headers["Content-Type"] == "image/png"
    assert value.getvalue().startswith(b"\x89PNG")


@pytest.mark.parametrize("base_url", [BASE_URL, BASE_URL + "/", BASE_URL + "/v1", BASE_URL + "/v1/"])
async def test_the_base_url_is_an_origin_or_already_ends_in_v1(channel, http, fixture, mocked, base_url):
    mocked.post(VIDEOS, payload=fixture("sora-queued"))
    await _submit(attrs.evolve(channel, base_url=base_url), http, _request())
    assert ("POST", URL(VIDEOS)) in mocked.requests


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_value", FailureKind.CALLER),
        (404, "model_not_found", FailureKind.CALLER),
        (422, None, FailureKind.CALLER),
        (400, "moderation_blocked", FailureKind.CONTENT_POLICY),
        (401, "invalid_api_key", FailureKind.CHANNEL),
        (403, None, FailureKind.CHANNEL),
        (429, "rate_limit_exceeded", FailureKind.RATE_LIMITED),
        (500, "server_error", FailureKind.TRANSIENT),
        (503, None, FailureKind.TRANSIENT),
    ],
)
async def test_submit_errors_by_status(channel, http, mocked, status, code, kind):
    body = {"error": {"message": "It went wrong.", "type": "invalid_request_error", "param": None, "code": code}}
    mocked.post(VIDEOS, status=status, payload=body)
    with pytest.raises(UpstreamError) as raised:
        await _submit(channel, http, _request())
    assert raised.value.kind is kind and raised.value.http_status == status
    assert API_KEY not in raised.value.message
    if kind is FailureKind.CALLER:
        assert raised.value.message == "It went wrong."


async def test_connection_failures_are_transient(channel, http, mocked):
    mocked.post(VIDEOS, exception=aiohttp.ClientConnectionError("refused"))
    with pytest.raises(UpstreamError) as raised:
        await _submit(channel, http, _request())
    assert raised.value.kind is FailureKind.TRANSIENT


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("queued", TaskStatus.QUEUED),
        ("in_progress", TaskStatus.IN_PROGRESS),
        ("completed", TaskStatus.COMPLETED),
        ("failed", TaskStatus.FAILED),
    ],
)
async def test_fetch_and_map_every_state(channel, http, fixture, mocked, make_task, state, status):
    mocked.get(f"{VIDEOS}/video_abc", payload=fixture(f"sora-{state}"))
    task = make_task()
    payload = await reelay_sora.plugin.reelay_fetch_status(task=task, channel=channel, http=http)
    update = reelay_sora.plugin.reelay_map_status(payload=payload, task=task, channel=channel)
    assert update.status is status
    assert _sent(mocked, "GET", f"{VIDEOS}/video_abc")["headers"]["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, FailureKind.NOT_FOUND),
        (401, FailureKind.CHANNEL),
        (429, FailureKind.RATE_LIMITED),
        (500, FailureKind.TRANSIENT),
    ],
)
async def test_status_errors(channel, http, mocked, make_task, status, kind):
    mocked.get(f"{VIDEOS}/video_abc", status=status, payload={"error": {"message": "no", "code": None}})
    with pytest.raises(UpstreamError) as raised:
        await reelay_sora.plugin.reelay_fetch_status(task=make_task(), channel=channel, http=http)
    assert raised.value.kind is kind


async def test_a_task_without_the_vendors_id_is_not_found(channel, http, make_task):
    with pytest.raises(UpstreamError) as raised:
        await reelay_sora.plugin.reelay_fetch_status(task=make_task(video_id=None), channel=channel, http=http)
    assert raised.value.kind is FailureKind.NOT_FOUND


# ---------------------------------------------------------------- content


@pytest.mark.parametrize(
    ("variant", "mime_type"),
    [("video", "video/mp4"), ("thumbnail", "image/webp"), ("spritesheet", "image/jpeg")],
)
async def test_content_variants(channel, http, make_task, variant, mime_type):
    channel = attrs.evolve(channel, credentials={"api_key": API_KEY, "project": "proj_1"})
    source = await reelay_sora.plugin.reelay_open_content(task=make_task(), channel=channel, http=http, variant=variant)
    assert source == ContentSource(
        url=f"{VIDEOS}/video_abc/content?variant={variant}",
        headers={"Authorization": f"Bearer {API_KEY}", "OpenAI-Project": "proj_1"},
        mime_type=mime_type,
    )
    assert API_KEY not in repr(source) and "video_abc" not in repr(source)


async def test_other_variants_are_refused_listing_the_offered_ones(channel, http, make_task):
    with pytest.raises(InvalidRequest) as raised:
        await reelay_sora.plugin.reelay_open_content(task=make_task(), channel=channel, http=http, variant="poster")
    assert raised.value.param == "variant"
    assert all(name in raised.value.message for name in ("video", "thumbnail", "spritesheet"))


# ---------------------------------------------------------------- cancel and remix


async def test_cancel_deletes_the_video(channel, http, mocked, make_task):
    mocked.delete(f"{VIDEOS}/video_abc", payload={"id": "video_abc", "object": "video.deleted", "deleted": True})
    await reelay_sora.plugin.reelay_cancel(task=make_task(), channel=channel, http=http)
    assert _sent(mocked, "DELETE", f"{VIDEOS}/video_abc")["headers"]["Authorization"] == f"Bearer {API_KEY}"


async def test_cancelling_a_video_that_is_gone_succeeds(channel, http, mocked, make_task):
    mocked.delete(f"{VIDEOS}/video_abc", status=404, payload={"error": {"message": "Video not found."}})
    await reelay_sora.plugin.reelay_cancel(task=make_task(), channel=channel, http=http)


@pytest.mark.parametrize(("status", "kind"), [(401, FailureKind.CHANNEL), (500, FailureKind.TRANSIENT)])
async def test_cancel_errors(channel, http, mocked, make_task, status, kind):
    mocked.delete(f"{VIDEOS}/video_abc", status=status, payload={"error": {"message": "no"}})
    with pytest.raises(UpstreamError) as raised:
        await reelay_sora.plugin.reelay_cancel(task=make_task(), channel=channel, http=http)
    assert raised.value.kind is kind


async def test_remix_posts_the_prompt_and_returns_the_new_video(channel, http, fixture, mocked, make_task):
    mocked.post(f"{VIDEOS}/video_abc/remix", payload=fixture("sora-queued") | {"id": "video_new"})
    ref = await reelay_sora.plugin.reelay_remix(task=make_task(), prompt="now at night", channel=channel, http=http)
    assert ref == VendorRef("video_new")
    assert _sent_json(mocked, "POST", f"{VIDEOS}/video_abc/remix") == {"prompt": "now at night"}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "moderation_blocked", FailureKind.CONTENT_POLICY),
        (404, None, FailureKind.CALLER),
        (409, None, FailureKind.CALLER),
        (429, None, FailureKind.RATE_LIMITED),
    ],
)
async def test_remix_errors(channel, http, mocked, make_task, status, code, kind):
    body = {"error": {"message": "Not possible.", "type": "invalid_request_error", "param": None, "code": code}}
    mocked.post(f"{VIDEOS}/video_abc/remix", status=status, payload=body)
    with pytest.raises(UpstreamError) as raised:
        await reelay_sora.plugin.reelay_remix(task=make_task(), prompt="again", channel=channel, http=http)
    assert raised.value.kind is kind


async def test_remix_needs_a_prompt(channel, http, make_task):
    with pytest.raises(InvalidRequest):
        await reelay_sora.plugin.reelay_remix(task=make_task(), prompt=" ", channel=channel, http=http)


def test_messages_never_name_the_key(channel):
    assert re.search(re.escape(API_KEY), repr(channel)) is None
