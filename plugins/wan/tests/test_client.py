"""The plugin's calls to DashScope against recorded answers (aioresponses)."""

from __future__ import annotations

import pytest

from reelay import Channel, FailureKind, Task, UpstreamError, VendorRef
from reelay_wan import dashscope_root

TASK_URL = "https://ds.test/api/v1/tasks/0385dc79"


def wan_task(ref="0385dc79"):
    return Task(
        id="v", owner="o", model="wan2.6-t2v", vendor="wan", channel="ds", vendor_ref=VendorRef(ref) if ref else None
    )


async def test_submit_is_asynchronous_on_the_right_path(pm, channel, http, mocked, answer):
    mocked.post("https://ds.test/api/v1/services/aigc/image2video/video-synthesis", payload=answer("pending"))
    body = {"model": "wan2.1-kf2v-plus", "input": {"first_frame_url": "https://i.example/a"}, "parameters": {}}
    ref = await pm.hook.reelay_submit(payload=body, request=None, channel=channel, http=http)
    assert ref.id == "0385dc79-5ff8-4d82-bcb6-xxxxxx"
    (call,) = next(iter(mocked.requests.values()))
    assert call.kwargs["headers"]["X-DashScope-Async"] == "enable"
    assert call.kwargs["headers"]["Authorization"] == "Bearer sk-ds"


async def test_a_refusal_is_the_callers(pm, channel, http, mocked, answer):
    mocked.post(
        "https://ds.test/api/v1/services/aigc/video-generation/video-synthesis",
        status=400,
        payload=answer("error-invalid-parameter"),
    )
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={"input": {}}, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER


async def test_poll_and_read(pm, channel, http, mocked, answer):
    mocked.get(TASK_URL, payload=answer("succeeded"), repeat=True)
    assert (await pm.hook.reelay_fetch_status(task=wan_task(), channel=channel, http=http))["output"][
        "task_status"
    ] == "SUCCEEDED"
    source = await pm.hook.reelay_open_content(task=wan_task(), channel=channel, http=http, variant="video")
    assert "Signature=" in source.url


async def test_cancel_only_pending(pm, channel, http, mocked):
    mocked.post(TASK_URL + "/cancel", payload={"request_id": "r"})
    await pm.hook.reelay_cancel(task=wan_task(), channel=channel, http=http)
    refusal = {"code": "UnsupportedOperation", "message": "Failed to cancel the task"}
    mocked.post(TASK_URL + "/cancel", status=400, payload=refusal)
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_cancel(task=wan_task(), channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER


async def test_lost_submission_is_resubmitted(pm, channel, http):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=wan_task(None), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


@pytest.mark.parametrize(
    ("base_url", "region", "root"),
    [
        ("", "intl", "https://dashscope-intl.aliyuncs.com"),
        ("https://dashscope-intl.aliyuncs.com", "cn", "https://dashscope.aliyuncs.com"),
        ("https://ws1.ap-southeast-1.maas.aliyuncs.com", "intl", "https://ws1.ap-southeast-1.maas.aliyuncs.com"),
    ],
)
def test_region_and_base_url(base_url, region, root):
    assert dashscope_root(Channel(name="c", vendor="wan", base_url=base_url, options={"region": region})) == root


def test_catalogue_by_region(pm):
    from reelay_wan.models import BY_NAME

    cn = Channel(name="c", vendor="wan", base_url="", options={"region": "cn"})
    assert pm.hook.reelay_channel_serves(model=BY_NAME["wanx2.1-t2v-plus"].spec, channel=cn) is True
    assert pm.hook.reelay_channel_serves(model=BY_NAME["wan2.1-t2v-plus"].spec, channel=cn) is False
    bad = Channel(name="c", vendor="wan", base_url="", options={"region": "us"})
    assert pm.hook.reelay_validate_channel(channel=bad, vendor=None)[0][0].startswith("options.region")
