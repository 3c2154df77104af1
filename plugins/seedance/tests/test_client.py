"""submit, fetch_status, open_content and cancel against recorded Ark answers (aioresponses)."""

from __future__ import annotations

import pytest

from reelay import Channel, FailureKind, Task, UpstreamError, VendorRef, VideoResult
from reelay_seedance import channel_origin

TASKS = "https://ark.test/api/v3/contents/generations/tasks"
TASK_ID = "cgt-20250331175019-68d9t"


def _task(ref: str | None = TASK_ID, result: VideoResult | None = None) -> Task:
    return Task(
        id="video_t",
        owner="o",
        model="doubao-seedance-1-0-pro-250528",
        vendor="seedance",
        channel="ark-test",
        vendor_ref=VendorRef(ref) if ref else None,
        result=result,
    )


async def test_submit_sends_the_key_and_returns_the_id(pm, channel, http, mocked):
    mocked.post(TASKS, payload={"id": TASK_ID})
    ref = await pm.hook.reelay_submit(payload={"model": "m", "content": []}, request=None, channel=channel, http=http)
    assert ref == VendorRef(TASK_ID)
    (call,) = mocked.requests[("POST", pytest.importorskip("yarl").URL(TASKS))]
    assert call.kwargs["headers"]["Authorization"] == "Bearer ark-k"


async def test_submit_without_an_id_is_transient(pm, channel, http, mocked):
    mocked.post(TASKS, payload={})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={}, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.TRANSIENT


async def test_submit_refusal_is_the_callers_fault(pm, channel, http, mocked, load_fixture):
    mocked.post(TASKS, status=400, payload=load_fixture("seedance-error-invalid-parameter"))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={}, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER and caught.value.param == "resolution"


async def test_rate_limit_carries_retry_after(pm, channel, http, mocked):
    body = {"error": {"code": "RateLimitExceeded.EndpointRPMExceeded", "message": "slow down"}}
    mocked.post(TASKS, status=429, payload=body, headers={"Retry-After": "7"})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={}, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.RATE_LIMITED and caught.value.retry_after == 7.0


async def test_fetch_status_returns_the_task(pm, channel, http, mocked, load_fixture):
    mocked.get(f"{TASKS}/{TASK_ID}", payload=load_fixture("seedance-running"))
    payload = await pm.hook.reelay_fetch_status(task=_task(), channel=channel, http=http)
    assert payload["status"] == "running"


async def test_unknown_task_is_not_found(pm, channel, http, mocked):
    mocked.get(f"{TASKS}/{TASK_ID}", status=404, payload={"error": {"code": "ResourceNotFound", "message": "gone"}})
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=_task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_without_a_vendor_ref_the_core_resubmits(pm, channel, http):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=_task(None), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_open_content_uses_the_presigned_url(pm, channel, http):
    task = _task(result=VideoResult(url="https://tos.test/v.mp4?X-Tos-Expires=86400"))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source.url == "https://tos.test/v.mp4?X-Tos-Expires=86400" and not source.headers


async def test_open_content_refetches_when_no_url_is_kept(pm, channel, http, mocked, load_fixture):
    mocked.get(f"{TASKS}/{TASK_ID}", payload=load_fixture("seedance-succeeded"))
    source = await pm.hook.reelay_open_content(task=_task(), channel=channel, http=http, variant="video")
    assert source.url.endswith("X-Tos-Expires=86400")


async def test_cancel_deletes_the_task(pm, channel, http, mocked):
    mocked.delete(f"{TASKS}/{TASK_ID}", payload={})
    await pm.hook.reelay_cancel(task=_task(), channel=channel, http=http)


async def test_cancelling_a_running_task_is_refused(pm, channel, http, mocked):
    body = {"error": {"code": "InvalidAction.RunningTaskDeletion", "message": "Cannot delete task"}}
    mocked.delete(f"{TASKS}/{TASK_ID}", status=409, payload=body)
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_cancel(task=_task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER


@pytest.mark.parametrize(
    ("base_url", "options", "origin"),
    [
        ("", {}, "https://ark.cn-beijing.volces.com"),
        ("https://ark.cn-beijing.volces.com", {"region": "intl"}, "https://ark.ap-southeast.bytepluses.com"),
        ("", {"region": "intl"}, "https://ark.ap-southeast.bytepluses.com"),
        ("https://proxy.example/", {"region": "intl"}, "https://proxy.example"),
    ],
)
def test_region_picks_the_host_and_base_url_overrides(base_url, options, origin):
    assert channel_origin(Channel(name="c", vendor="seedance", base_url=base_url, options=options)) == origin


def test_region_decides_the_catalogue(pm):
    from reelay_seedance.models import BY_NAME

    intl = Channel(name="i", vendor="seedance", base_url="", options={"region": "intl"})
    serves = pm.hook.reelay_channel_serves
    assert serves(model=BY_NAME["seedance-1-0-pro-250528"].spec, channel=intl) is True
    assert serves(model=BY_NAME["doubao-seedance-1-0-pro-250528"].spec, channel=intl) is False


def test_unknown_region_is_a_configuration_problem(pm):
    bad = Channel(name="b", vendor="seedance", base_url="", options={"region": "mars"})
    problems = pm.hook.reelay_validate_channel(channel=bad, vendor=None)
    assert problems == [["options.region: 'mars' is not a Seedance region; use cn or intl"]]
