"""create / get / content / delete against recorded Luma answers (aioresponses)."""

from __future__ import annotations

import pytest
from yarl import URL

from reelay import Channel, FailureKind, UpstreamError, VendorRef, VideoResult

GENERATION_ID = "3f0a5d2e-8c1b-4e7a-9d3f-1b2c3d4e5f60"
API = "https://luma.test/dream-machine/v1"
ONE = f"{API}/generations/{GENERATION_ID}"


async def _create(luma_pm, luma_channel, http, body):
    from reelay import GenerationRequest

    request = GenerationRequest(model="ray-2", prompt="a fox")
    return await luma_pm.hook.reelay_submit(payload=body, request=request, channel=luma_channel, http=http)


async def test_create_posts_to_generations_video(luma_pm, luma_channel, http, mocked, load_fixture, payload_for):
    mocked.post(f"{API}/generations/video", status=201, payload=load_fixture("luma-queued"))
    ref = await _create(luma_pm, luma_channel, http, payload_for("ray-2", prompt="a fox"))
    assert ref == VendorRef(GENERATION_ID)
    call = mocked.requests[("POST", URL(f"{API}/generations/video"))][0]
    assert call.kwargs["headers"]["Authorization"] == "Bearer luma-k"


@pytest.mark.parametrize(
    ("status", "fixture", "kind"),
    [
        (400, "luma-error-prompt-too-short", FailureKind.CALLER),
        (422, "luma-error-validation", FailureKind.CALLER),
        (401, "luma-error-unauthorized", FailureKind.CHANNEL),
        (402, "luma-error-credits", FailureKind.CHANNEL),
        (400, "luma-error-credits", FailureKind.CHANNEL),
        (403, "luma-error-unauthorized", FailureKind.CHANNEL),
        (429, "luma-error-rate-limited", FailureKind.RATE_LIMITED),
        (500, "luma-error-server", FailureKind.TRANSIENT),
        (503, "luma-error-server", FailureKind.TRANSIENT),
    ],
)
async def test_create_refusals_are_sorted(luma_pm, luma_channel, http, mocked, load_fixture, status, fixture, kind):
    mocked.post(f"{API}/generations/video", status=status, payload=load_fixture(fixture))
    with pytest.raises(UpstreamError) as caught:
        await _create(luma_pm, luma_channel, http, {"model": "ray-2", "prompt": "a fox"})
    assert caught.value.kind is kind and caught.value.http_status == status


async def test_validation_lists_are_read(luma_pm, luma_channel, http, mocked, load_fixture):
    mocked.post(f"{API}/generations/video", status=422, payload=load_fixture("luma-error-validation"))
    with pytest.raises(UpstreamError) as caught:
        await _create(luma_pm, luma_channel, http, {"model": "ray-2", "prompt": "a fox"})
    assert "aspect_ratio: Input should be" in caught.value.message


async def test_a_moderation_refusal_is_content_policy(luma_pm, luma_channel, http, mocked):
    mocked.post(f"{API}/generations/video", status=400, payload={"detail": "Contains blacklisted words"})
    with pytest.raises(UpstreamError) as caught:
        await _create(luma_pm, luma_channel, http, {"model": "ray-2", "prompt": "a fox"})
    assert caught.value.kind is FailureKind.CONTENT_POLICY


async def test_get_and_not_found(luma_pm, luma_channel, http, mocked, load_fixture, generation_task):
    mocked.get(ONE, payload=load_fixture("luma-dreaming"))
    payload = await luma_pm.hook.reelay_fetch_status(task=generation_task, channel=luma_channel, http=http)
    assert payload["state"] == "dreaming"
    mocked.get(ONE, status=404, payload=load_fixture("luma-error-not-found"))
    with pytest.raises(UpstreamError) as caught:
        await luma_pm.hook.reelay_fetch_status(task=generation_task, channel=luma_channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_get_without_a_generation_id_asks_for_a_resubmission(luma_pm, luma_channel, http, generation_task):
    generation_task.vendor_ref = None
    with pytest.raises(UpstreamError) as caught:
        await luma_pm.hook.reelay_fetch_status(task=generation_task, channel=luma_channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_a_channel_without_key(luma_pm, http, generation_task):
    bare = Channel(name="bare", vendor="luma", base_url="https://luma.test")
    with pytest.raises(UpstreamError) as caught:
        await luma_pm.hook.reelay_fetch_status(task=generation_task, channel=bare, http=http)
    assert caught.value.kind is FailureKind.CHANNEL


async def test_content_is_the_cdn_url_without_auth(luma_pm, luma_channel, http, generation_task):
    generation_task.result = VideoResult(
        url="https://cdn.luma.test/v.mp4", extra={"thumbnail_url": "https://cdn/t.jpg"}
    )
    source = await luma_pm.hook.reelay_open_content(
        task=generation_task, channel=luma_channel, http=http, variant="video"
    )
    assert source.url == "https://cdn.luma.test/v.mp4" and source.headers == {} and source.mime_type == "video/mp4"
    thumb = await luma_pm.hook.reelay_open_content(
        task=generation_task, channel=luma_channel, http=http, variant="thumbnail"
    )
    assert thumb.url == "https://cdn/t.jpg"


async def test_content_is_looked_up_when_not_kept(luma_pm, luma_channel, http, mocked, load_fixture, generation_task):
    mocked.get(ONE, payload=load_fixture("luma-completed"))
    source = await luma_pm.hook.reelay_open_content(
        task=generation_task, channel=luma_channel, http=http, variant="video"
    )
    assert source.url == load_fixture("luma-completed")["assets"]["video"]


async def test_cancel_deletes(luma_pm, luma_channel, http, mocked, generation_task):
    mocked.delete(ONE, status=204)
    await luma_pm.hook.reelay_cancel(task=generation_task, channel=luma_channel, http=http)
    mocked.delete(ONE, status=404, payload={"detail": "Generation not found"})
    await luma_pm.hook.reelay_cancel(task=generation_task, channel=luma_channel, http=http)
    mocked.delete(ONE, status=500, payload={"detail": "Internal server error"})
    with pytest.raises(UpstreamError):
        await luma_pm.hook.reelay_cancel(task=generation_task, channel=luma_channel, http=http)
