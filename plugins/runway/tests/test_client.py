"""submit / fetch_status / open_content / cancel against recorded Runway answers (aioresponses)."""

from __future__ import annotations

import json

import pytest
from yarl import URL

from reelay import ContentSource, FailureKind, Task, TaskStatus, UpstreamError, VendorRef, VideoResult
from reelay_runway.models import BY_NAME

BASE = "https://runway.test"
TASK_ID = "17f20503-6c24-4c16-946b-35dbbce2af2f"
T2V = f"{BASE}/v1/text_to_video"
I2V = f"{BASE}/v1/image_to_video"
TASK_URL = f"{BASE}/v1/tasks/{TASK_ID}"


@pytest.fixture
def submit(pm, channel, normalized, http):
    async def run(model: str, **fields) -> VendorRef:
        request = normalized(model, **fields)
        payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=channel)
        return await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)

    return run


def task(vendor_ref=VendorRef(TASK_ID), result=None) -> Task:
    return Task(
        id="video_test123", owner="o", model="gen4.5", vendor="runway", channel="runway-test",
        vendor_ref=vendor_ref, result=result, status=TaskStatus.IN_PROGRESS,
    )  # fmt: skip


def sent(mocked, method, url):
    kwargs = mocked.requests[(method, URL(url))][0].kwargs
    data = kwargs.get("data")
    body = json.loads(data.getvalue() if hasattr(data, "getvalue") else data) if data is not None else None
    return kwargs["headers"], body


async def test_submit_sends_the_pinned_version_and_bearer(mocked, submit, load_fixture):
    mocked.post(T2V, payload=load_fixture("runway-create"))
    ref = await submit("gen4.5", prompt="a fox", seconds=4)
    assert ref == VendorRef(TASK_ID, {"endpoint": "text_to_video"})
    headers, body = sent(mocked, "POST", T2V)
    assert headers["Authorization"] == "Bearer key_test"
    assert headers["X-Runway-Version"] == "2024-11-06"
    assert body == {"model": "gen4.5", "promptText": "a fox", "ratio": "1280:720", "duration": 4}


async def test_submit_image_to_video(mocked, submit, load_fixture):
    mocked.post(I2V, payload=load_fixture("runway-create"))
    ref = await submit("gen4_turbo", image="https://images.example/a.png")
    assert ref.data == {"endpoint": "image_to_video"}


ERRORS = [
    (400, "runway-error-validation", FailureKind.CALLER),
    (400, "runway-error-credits", FailureKind.CHANNEL),
    (401, "runway-error-unauthorized", FailureKind.CHANNEL),
    (429, "runway-error-rate-limited", FailureKind.RATE_LIMITED),
    (502, "runway-error-overloaded", FailureKind.TRANSIENT),
    (503, "runway-error-overloaded", FailureKind.TRANSIENT),
    (504, "runway-error-overloaded", FailureKind.TRANSIENT),
]


@pytest.mark.parametrize(("status", "fixture", "kind"), ERRORS)
async def test_submit_errors_are_sorted(mocked, submit, load_fixture, status, fixture, kind):
    mocked.post(T2V, status=status, payload=load_fixture(fixture), headers={"Retry-After": "3"})
    with pytest.raises(UpstreamError) as caught:
        await submit("gen4.5", prompt="a fox")
    assert caught.value.kind is kind and caught.value.http_status == status
    assert load_fixture(fixture)["error"] in caught.value.message
    assert caught.value.retry_after == 3.0


async def test_validation_issues_reach_the_caller(mocked, submit, load_fixture):
    mocked.post(T2V, status=400, payload=load_fixture("runway-error-validation"))
    with pytest.raises(UpstreamError) as caught:
        await submit("gen4.5", prompt="a fox")
    assert "ratio: Invalid enum value" in caught.value.message


async def test_a_moderation_refusal_is_content_policy(mocked, submit):
    mocked.post(T2V, status=400, payload={"error": "SAFETY.INPUT.TEXT: the prompt was rejected by content moderation"})
    with pytest.raises(UpstreamError) as caught:
        await submit("gen4.5", prompt="a fox")
    assert caught.value.kind is FailureKind.CONTENT_POLICY and caught.value.code == "content_policy_violation"


async def test_a_create_without_id_is_transient(mocked, submit):
    mocked.post(T2V, payload={"estimatedCost": {"credits": 10}})
    with pytest.raises(UpstreamError) as caught:
        await submit("gen4.5", prompt="a fox")
    assert caught.value.kind is FailureKind.TRANSIENT


async def test_fetch_status_returns_the_task(pm, channel, http, mocked, load_fixture):
    mocked.get(TASK_URL, payload=load_fixture("runway-running"))
    payload = await pm.hook.reelay_fetch_status(task=task(), channel=channel, http=http)
    assert payload["status"] == "RUNNING"
    headers, _ = sent(mocked, "GET", TASK_URL)
    assert headers["X-Runway-Version"] == "2024-11-06"


async def test_fetch_status_of_a_gone_task_is_not_found(pm, channel, http, mocked, load_fixture):
    mocked.get(TASK_URL, status=404, payload=load_fixture("runway-error-not-found"))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_without_a_task_id_the_core_resubmits(pm, channel, http):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task(vendor_ref=None), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_a_missing_key_is_the_channels_problem(pm, http, normalized):
    from reelay import Channel

    bare = Channel(name="bare", vendor="runway", base_url=BASE)
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task(), channel=bare, http=http)
    assert caught.value.kind is FailureKind.CHANNEL


async def test_open_content_uses_the_signed_url_without_headers(pm, channel, http):
    result = VideoResult(url="https://cdn.runway.test/v.mp4?_jwt=x")
    source = await pm.hook.reelay_open_content(task=task(result=result), channel=channel, http=http, variant="video")
    assert source == ContentSource(url="https://cdn.runway.test/v.mp4?_jwt=x", mime_type="video/mp4")
    assert source.headers == {}


async def test_open_content_asks_runway_when_no_result_was_kept(pm, channel, http, mocked, load_fixture):
    mocked.get(TASK_URL, payload=load_fixture("runway-succeeded"))
    source = await pm.hook.reelay_open_content(task=task(), channel=channel, http=http, variant="video")
    assert source.url == load_fixture("runway-succeeded")["output"][0]


async def test_cancel_deletes_the_task(pm, channel, http, mocked):
    mocked.delete(TASK_URL, status=204)
    await pm.hook.reelay_cancel(task=task(), channel=channel, http=http)
    headers, _ = sent(mocked, "DELETE", TASK_URL)
    assert headers["Authorization"] == "Bearer key_test"


async def test_cancel_of_a_gone_task_is_done(pm, channel, http, mocked):
    mocked.delete(TASK_URL, status=404, payload={"error": "Task not found"})
    await pm.hook.reelay_cancel(task=task(), channel=channel, http=http)


async def test_cancel_failure_is_raised(pm, channel, http, mocked):
    mocked.delete(TASK_URL, status=503, payload={"error": "busy"})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_cancel(task=task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.TRANSIENT
