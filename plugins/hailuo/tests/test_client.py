"""submit, query and the file_id -> download_url resolution against recorded answers."""

from __future__ import annotations

import pytest

from reelay import Channel, FailureKind, Task, UpstreamError, VendorRef, VideoResult
from reelay_hailuo import platform_origin

QUERY = "https://mm.test/v1/query/video_generation?task_id=106916112212032"
FILE = "https://mm.test/v1/files/retrieve?file_id=205258526306433"


def _task(result=None, ref="106916112212032"):
    return Task(
        id="video_h",
        owner="o",
        model="MiniMax-Hailuo-02",
        vendor="hailuo",
        channel="mm",
        vendor_ref=VendorRef(ref) if ref else None,
        result=result,
    )


async def test_submit(pm, channel, http, mocked, recorded):
    mocked.post("https://mm.test/v1/video_generation", payload=recorded("create"))
    ref = await pm.hook.reelay_submit(payload={"model": "T2V-01"}, request=None, channel=channel, http=http)
    assert ref == VendorRef("106916112212032")


async def test_submit_refused_with_http_200(pm, channel, http, mocked, recorded):
    mocked.post("https://mm.test/v1/video_generation", payload=recorded("error-2013"))
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_submit(payload={}, request=None, channel=channel, http=http)
    assert caught.value.kind is FailureKind.CALLER


async def test_query(pm, channel, http, mocked, recorded):
    mocked.get(QUERY, payload=recorded("processing"))
    assert (await pm.hook.reelay_fetch_status(task=_task(), channel=channel, http=http))["status"] == "Processing"


async def test_a_moderated_query_is_the_tasks_end_not_an_error(pm, channel, http, mocked, recorded):
    mocked.get(QUERY, payload=recorded("moderated-1026"))
    payload = await pm.hook.reelay_fetch_status(task=_task(), channel=channel, http=http)
    assert pm.hook.reelay_map_status(payload=payload, task=_task(), channel=channel).error.code == (
        "content_policy_violation"
    )


async def test_without_a_task_id_the_core_resubmits(pm, channel, http):
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=_task(ref=None), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


async def test_content_resolves_the_file_id(pm, channel, http, mocked, recorded):
    mocked.get(FILE, payload=recorded("file"))
    task = _task(VideoResult(extra={"file_id": "205258526306433"}))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source.url.startswith("https://public-cdn-video-data-algeng") and not source.headers


async def test_content_queries_again_when_the_file_id_is_unknown(pm, channel, http, mocked, recorded):
    mocked.get(QUERY, payload=recorded("success"))
    mocked.get(FILE, payload=recorded("file"))
    source = await pm.hook.reelay_open_content(task=_task(), channel=channel, http=http, variant="video")
    assert source.mime_type == "video/mp4"


def test_hailuo_cannot_cancel(pm, channel):
    assert pm.hook.reelay_cancel(task=_task(), channel=channel, http=None) is None


@pytest.mark.parametrize(
    ("base_url", "region", "origin"),
    [
        ("", None, "https://api.minimax.io"),
        ("https://api.minimax.io", "cn", "https://api.minimaxi.com"),
        ("https://mm-proxy.example/", "cn", "https://mm-proxy.example"),
    ],
)
def test_region_and_base_url(base_url, region, origin):
    options = {"region": region} if region else {}
    assert platform_origin(Channel(name="c", vendor="hailuo", base_url=base_url, options=options)) == origin


def test_unknown_region(pm):
    bad = Channel(name="c", vendor="hailuo", base_url="", options={"region": "eu"})
    assert pm.hook.reelay_validate_channel(channel=bad, vendor=None) == [
        ["options.region: 'eu' is not a MiniMax platform; use intl or cn"]
    ]
