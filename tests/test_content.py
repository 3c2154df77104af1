"""Finished videos: kept on the gateway's disk as tasks complete, relayed from the vendor otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import acme
import aiohttp
import attrs
import pytest
from acme_gateway import acme_gateway
from aiohttp import web
from multidict import CIMultiDict

from reelay import ContentSource, hookimpl
from reelay.config import StoreConfig
from reelay.emulation import serve_app
from reelay.engine.keeping import NotKept, keep_copy, open_upstream, sweep_results
from reelay.http.ranges import bytes_response
from reelay.store.sqlite import StoreUnavailable
from reelay.testing import channel_for, gateway_config, running_gateway

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400  # about 100 KB
SECRET = "cdn-secret-value"


@attrs.define
class Cdn:
    """A vendor's download server on loopback that a test can break, slow down or count."""

    url: str = ""
    hits: list[str] = attrs.field(factory=list)
    mode: str = "ok"  # ok | fail | stall | chunked | ignore-range | break | ignore-if-range | bare-416
    release: asyncio.Event = attrs.field(factory=asyncio.Event)
    credentials_seen: list[str | None] = attrs.field(factory=list)
    validators: dict[str, str] = attrs.field(factory=dict)  # ETag, Last-Modified: none unless a test sets them

    def app(self) -> web.Application:
        async def video(request: web.Request) -> web.StreamResponse:
            self.hits.append(request.path)
            self.credentials_seen.append(request.headers.get("X-Cdn-Key"))
            if self.mode == "fail":
                return web.Response(status=500, text="broken")
            if self.mode == "stall":
                await self.release.wait()
            if self.mode == "chunked":  # no Content-Length: the size is only known at the end
                response = web.StreamResponse()
                response.enable_chunked_encoding()
                await response.prepare(request)
                for start in range(0, len(VIDEO), 8192):
                    await response.write(VIDEO[start : start + 8192])
                await response.write_eof()
                return response
            if self.mode == "ignore-range":
                return web.Response(body=VIDEO, content_type="video/mp4", headers=self.validators)
            if self.mode == "ignore-if-range":
                request = request.clone(headers={k: v for k, v in request.headers.items() if k != "If-Range"})
            if self.mode == "bare-416" and "Range" in request.headers:  # refuses every range, sizeless
                return web.Response(status=416)
            if self.mode == "break":  # declares the whole length, then closes halfway
                response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
                response.content_length = len(VIDEO)
                await response.prepare(request)
                await response.write(VIDEO[: len(VIDEO) // 2])
                assert request.transport is not None
                request.transport.close()
                return response
            return bytes_response(request, VIDEO, "video/mp4", validators=self.validators)

        async def hop(request: web.Request) -> web.Response:
            self.credentials_seen.append(request.headers.get("X-Cdn-Key"))
            raise web.HTTPFound(request.query["to"])

        app = web.Application()
        app.router.add_get("/video.mp4", video)
        app.router.add_get("/hop", hop)
        return app


class CdnContent:
    """Points every task's content at the test CDN, with a credential."""

    def __init__(self, cdn: Cdn):
        self.cdn = cdn
        self.calls = 0

    @hookimpl(tryfirst=True)
    def reelay_open_content(self, task, channel, http, variant):
        self.calls += 1
        return self._source()

    async def _source(self) -> ContentSource:
        return ContentSource(url=f"{self.cdn.url}/video.mp4", headers={"X-Cdn-Key": SECRET}, mime_type="video/mp4")


@pytest.fixture
async def cdn():
    cdn = Cdn()
    async with serve_app(cdn.app()) as url:
        cdn.url = url
        yield cdn
        cdn.release.set()  # stalled downloads end, so the server can stop


@contextlib.asynccontextmanager
async def gateway_with_cdn(acme_pm, tmp_path, cdn, **store):
    acme_pm.register(CdnContent(cdn))
    results = tmp_path / "results"
    config = StoreConfig(url=f"sqlite:///{tmp_path / 'reelay.db'}", results_dir=str(results), **store)
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1, store=config) as gw:
        yield gw


async def completed(gw) -> str:
    """A new task, completed and its copy (if any) finished."""
    _, task = await gw.client.submit(model="acme-1", prompt="a fox")
    final, _ = await gw.client.wait(task["id"])
    assert final["status"] == "completed"
    await gw.dispatcher.drain_copies()
    return task["id"]


def kept_files(tmp_path: Path) -> list[str]:
    results = tmp_path / "results"
    return sorted(path.name for path in results.iterdir()) if results.exists() else []


# ---------------------------------------------------------------- keeping


async def test_a_finished_video_is_kept_and_served_without_the_vendor(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        assert kept_files(tmp_path) == [f"{task_id}.mp4"]
        assert cdn.hits == ["/video.mp4"]
        cdn.mode = "fail"  # the vendor's link has expired
        code, headers, data = await gw.client.content(task_id)
        assert code == 200 and data == VIDEO
        assert headers["Content-Type"] == "video/mp4" and headers["Accept-Ranges"] == "bytes"
        assert cdn.hits == ["/video.mp4"]


async def test_kept_videos_answer_ranges_and_head(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        code, headers, data = await gw.client.content(task_id, range_="bytes=4-11")
        assert code == 206 and data == b"ftypmp42"
        assert headers["Content-Range"] == f"bytes 4-11/{len(VIDEO)}"
        code, headers, data = await gw.client.content(task_id, range_=f"bytes=-{len(VIDEO) + 10}")
        assert code == 206 and data == VIDEO
        code, headers, data = await gw.client.content(task_id, range_="bytes=0-1,5-6")  # not served: whole file
        assert code == 200 and data == VIDEO
        code, headers, data = await gw.client.content(task_id, method="HEAD")
        assert code == 200 and data == b"" and int(headers["Content-Length"]) == len(VIDEO)
        code, headers, body = await gw.client.content(task_id, range_=f"bytes={len(VIDEO)}-")
        assert code == 416 and headers["Content-Range"] == f"bytes */{len(VIDEO)}"
        assert json.loads(body)["error"]["code"] == "range_not_satisfiable"


async def test_the_task_completes_without_waiting_for_its_copy(acme_pm, tmp_path, cdn):
    """The copy runs in the background; a download asked for meanwhile waits for it
    instead of fetching the same bytes from the vendor a second time."""
    cdn.mode = "stall"
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        _, task = await gw.client.submit(model="acme-1", prompt="a fox")
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed" and kept_files(tmp_path) == []
        download = asyncio.create_task(gw.client.content(task["id"]))
        await asyncio.sleep(0.2)
        assert not download.done()
        cdn.release.set()
        code, _, data = await download
        assert code == 200 and data == VIDEO
        assert cdn.hits == ["/video.mp4"] and kept_files(tmp_path) == [f"{task['id']}.mp4"]


async def test_copies_wait_while_the_event_loop_is_busy(acme_pm, tmp_path, cdn):
    """Copies are background work: while the loop is saturated they wait (up to a limit)."""
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        busy = True

        async def hog() -> None:  # a loop that never has time to spare
            while busy:
                time.sleep(0.02)
                await asyncio.sleep(0)

        hogging = asyncio.create_task(hog())
        _, task = await gw.client.submit(model="acme-1", prompt="a fox")
        final, _ = await gw.client.wait(task["id"])
        assert final["status"] == "completed"
        await asyncio.sleep(0.5)
        assert cdn.hits == []  # its copy waits
        busy = False
        await hogging
        await gw.dispatcher.drain_copies()
        assert cdn.hits == ["/video.mp4"] and kept_files(tmp_path) == [f"{task['id']}.mp4"]


async def test_a_copy_cut_short_is_made_by_the_next_start(acme_pm, acme_spec, tmp_path, cdn):
    acme_pm.register(CdnContent(cdn))
    cdn.mode = "stall"
    async with serve_app(acme.create_emulator(acme_spec.settings(generation_seconds=0.1))) as emulator_url:
        config = gateway_config([channel_for(acme_spec, emulator_url)], tmp_path)
        async with running_gateway(config, pm=acme_pm) as gw:
            _, task = await gw.client.submit(model="acme-1", prompt="a fox")
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed"
            for _ in range(250):
                if cdn.hits:
                    break
                await asyncio.sleep(0.02)
            assert cdn.hits == ["/video.mp4"]  # the copy is under way
        # That gateway stopped mid-copy: nothing half-written is left.
        assert kept_files(tmp_path) == []
        cdn.mode = "ok"
        async with running_gateway(config, pm=acme_pm) as gw:
            for _ in range(250):
                if kept_files(tmp_path):
                    break
                await asyncio.sleep(0.02)
            await gw.dispatcher.drain_copies()
            assert kept_files(tmp_path) == [f"{task['id']}.mp4"]
            stored = await gw.dispatcher.store.get(task["id"])
            assert stored.result.path == str((tmp_path / "results" / f"{task['id']}.mp4").resolve())
            cdn.mode = "fail"
            code, _, data = await gw.client.content(task["id"])
            assert code == 200 and data == VIDEO


async def test_a_failed_copy_still_completes_and_is_relayed(acme_pm, tmp_path, cdn, capsys):
    cdn.mode = "fail"
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        assert kept_files(tmp_path) == []
        assert "result not kept" in capsys.readouterr().out
        cdn.mode = "ok"  # the vendor recovers
        code, _, data = await gw.client.content(task_id)
        assert code == 200 and data == VIDEO
        cdn.mode = "fail"
        code, _, body = await gw.client.content(task_id)
        assert code == 502 and json.loads(body)["error"]["code"] == "upstream_content_unavailable"
    out = capsys.readouterr().out
    assert SECRET not in out and cdn.url not in out


async def test_results_above_the_size_limit_are_relayed(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, max_result_mb=0.05) as gw:
        task_id = await completed(gw)
        cdn.mode = "chunked"  # no declared size: the copy stops once it passes the limit
        chunked_id = await completed(gw)
        assert kept_files(tmp_path) == []
        cdn.mode = "ok"
        for each in (task_id, chunked_id):
            code, _, data = await gw.client.content(each)
            assert code == 200 and data == VIDEO


async def test_keeping_can_be_turned_off(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        assert kept_files(tmp_path) == [] and cdn.hits == []
        code, _, data = await gw.client.content(task_id, range_="bytes=4-11")
        assert code == 206 and data == b"ftypmp42"


async def test_a_kept_file_removed_by_hand_is_read_from_the_vendor(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        os.unlink(tmp_path / "results" / f"{task_id}.mp4")
        code, _, data = await gw.client.content(task_id)
        assert code == 200 and data == VIDEO
        assert cdn.hits == ["/video.mp4", "/video.mp4"]


async def test_deleting_a_task_deletes_its_kept_video(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        status, _ = await gw.client.request("DELETE", f"/v1/videos/{task_id}")
        assert status == 200
        assert kept_files(tmp_path) == []


# ---------------------------------------------------------------- keep_copy and the relay


async def test_keep_copy_refuses_an_error_answer_and_leaves_nothing(cdn, tmp_path):
    cdn.mode = "fail"
    source = ContentSource(url=f"{cdn.url}/video.mp4")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(NotKept, match="answered 500"):
            await keep_copy(http, source, tmp_path, "t1", max_bytes=10**9, timeout=5)
    assert list(tmp_path.iterdir()) == []


async def test_keep_copy_gives_up_after_its_timeout(cdn, tmp_path):
    cdn.mode = "stall"
    source = ContentSource(url=f"{cdn.url}/video.mp4")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(NotKept, match=r"longer than 0\.2 seconds"):
            await keep_copy(http, source, tmp_path, "t1", max_bytes=10**9, timeout=0.2)
    assert list(tmp_path.iterdir()) == []


async def test_keep_copy_writes_the_whole_file(cdn, tmp_path):
    cdn.mode = "chunked"
    source = ContentSource(url=f"{cdn.url}/video.mp4", mime_type="video/webm")
    async with aiohttp.ClientSession() as http:
        kept = await keep_copy(http, source, tmp_path, "t1", max_bytes=10**9, timeout=5)
    assert kept.path == tmp_path / "t1.webm" and kept.size == len(VIDEO)
    assert kept.path.read_bytes() == VIDEO and kept.mime_type == "video/webm"


async def test_credentials_are_dropped_when_a_redirect_leaves_the_origin(cdn):
    elsewhere = Cdn()
    async with serve_app(elsewhere.app()) as elsewhere_url, aiohttp.ClientSession() as http:
        for target in (f"{cdn.url}/video.mp4", f"{elsewhere_url}/video.mp4"):
            source = ContentSource(url=f"{cdn.url}/hop?to={target}", headers={"X-Cdn-Key": SECRET})
            upstream = await open_upstream(http, source)
            assert upstream.status == 200 and await upstream.read() == VIDEO
            upstream.release()
    # Same origin: the key goes along; another origin (a signed URL, say) never sees it.
    assert cdn.credentials_seen == [SECRET, SECRET, SECRET] and elsewhere.credentials_seen == [None]


async def test_the_relay_serves_a_range_the_vendor_ignored(acme_pm, tmp_path, cdn):
    cdn.mode = "ignore-range"
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        code, headers, data = await gw.client.content(task_id, range_="bytes=4-11")
        assert code == 206 and data == b"ftypmp42"
        assert headers["Content-Range"] == f"bytes 4-11/{len(VIDEO)}"


# ---------------------------------------------------------------- retention


def test_sweeping_removes_only_files_older_than_the_cutoff(tmp_path):
    now = time.time()
    old, new = tmp_path / "old.mp4", tmp_path / "new.mp4"
    crashed, copying = tmp_path / "crashed.mp4.1-0.part", tmp_path / "copying.mp4.1-1.part"
    for path in (old, new, crashed, copying):
        path.write_bytes(b"video")
    (tmp_path / "nested").mkdir()
    os.utime(old, (now - 100, now - 100))
    os.utime(crashed, (now - 2 * 3600, now - 2 * 3600))  # no copy writes for that long
    assert sweep_results(tmp_path, older_than=now - 50, now=now) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copying.mp4.1-1.part", "nested", "new.mp4"]
    assert sweep_results(tmp_path / "missing", older_than=now, now=now) == 0


def test_without_keep_days_only_abandoned_copies_are_swept(tmp_path):
    now = time.time()
    old, crashed = tmp_path / "old.mp4", tmp_path / "crashed.mp4.1-0.part"
    for path in (old, crashed):
        path.write_bytes(b"video")
        os.utime(path, (1000, 1000))
    assert sweep_results(tmp_path, older_than=None, now=now) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["old.mp4"]


async def test_the_poller_sweeps_kept_results_past_keep_days(acme_pm, tmp_path, cdn):
    keep_days = 2 / 86400  # two seconds: swept every second
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_days=keep_days) as gw:
        task_id = await completed(gw)
        [kept] = (tmp_path / "results").iterdir()
        os.utime(kept, (1000, 1000))
        for _ in range(150):
            if not kept.exists():
                break
            await asyncio.sleep(0.02)
        assert not kept.exists()
        code, _, data = await gw.client.content(task_id)  # back to the vendor, while it still has it
        assert code == 200 and data == VIDEO
        cdn.mode = "fail"
        code, _, body = await gw.client.content(task_id)
        assert code == 502 and set(json.loads(body)["error"]) == {"message", "type", "code", "param"}


async def test_a_copy_the_store_cannot_record_is_logged_not_lost(acme_pm, tmp_path, cdn, capsys, monkeypatch):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        store = gw.dispatcher.store
        real_save = store.save

        async def save(task, **kwargs):
            if task.result is not None and task.result.path is not None:
                raise StoreUnavailable("the database is locked")
            return await real_save(task, **kwargs)

        monkeypatch.setattr(store, "save", save)
        task_id = await completed(gw)
        assert "kept result not recorded" in capsys.readouterr().out
        monkeypatch.setattr(store, "save", real_save)
        code, _, data = await gw.client.content(task_id)  # relayed: the path was never recorded
        assert code == 200 and data == VIDEO
        assert await gw.dispatcher.keep_missing() == 1  # what the next start does
        await gw.dispatcher.drain_copies()
        assert (await store.get(task_id)).result.path is not None


# ---------------------------------------------------------------- broken downloads (issue 14)


async def raw_get(base_url: str, path: str, headers: dict[str, str], timeout: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends for one keep-alive GET, until it closes; and how long that took."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            data = await reader.read(-1)  # until the server closes
    finally:
        writer.close()
    return data, time.monotonic() - started


async def test_a_vendor_download_broken_off_midway_ends_the_relay_with_a_short_body(acme_pm, tmp_path, cdn, capsys):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        cdn.mode = "break"
        with pytest.raises(aiohttp.ClientPayloadError):
            await gw.client.content(task_id)
        data, took = await raw_get(gw.base_url, f"/v1/videos/{task_id}/content", gw.client.headers)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ") and f"Content-Length: {len(VIDEO)}".encode() in head
        assert len(body) < len(VIDEO) and b"HTTP/1.1" not in body  # never a second response in the body
        assert took < 3, "the connection is closed at once, not kept alive"
    assert "response broken off" in capsys.readouterr().out


# ---------------------------------------------------------------- resuming: Range, If-Range, validators (issue 14)

VENDOR_VALIDATORS = {"ETag": '"vendor-v1"', "Last-Modified": "Tue, 04 Nov 2025 10:00:00 GMT"}
STALE = ['"vendor-v0"', 'W/"vendor-v1"', "Mon, 03 Nov 2025 10:00:00 GMT", "not a validator"]


async def test_a_kept_copy_sends_validators_and_honours_if_range(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        code, headers, _ = await content(gw, task_id, {}, method="HEAD")
        etag, last_modified = headers["ETag"], headers["Last-Modified"]
        assert code == 200 and etag.startswith('"')  # strong: good for If-Range
        for current in (etag, last_modified):
            code, headers, data = await content(gw, task_id, {"Range": "bytes=4-11", "If-Range": current})
            assert code == 206 and data == b"ftypmp42" and headers["ETag"] == etag
        for stale in (*STALE, f"W/{etag}"):
            code, headers, data = await content(gw, task_id, {"Range": "bytes=4-11", "If-Range": stale})
            assert code == 200 and data == VIDEO and "Content-Range" not in headers, stale
        beyond = {"Range": f"bytes={len(VIDEO)}-", "If-Range": '"stale"'}  # If-Range first: no 416
        code, _, data = await content(gw, task_id, beyond)
        assert code == 200 and data == VIDEO


@pytest.mark.parametrize("vendor", ["ok", "ignore-range", "ignore-if-range"])
async def test_the_relay_passes_the_vendors_validators_and_honours_if_range(acme_pm, tmp_path, cdn, vendor):
    """Whether the vendor applies Range and If-Range itself or not, the caller gets RFC 9110's answer."""
    cdn.validators = dict(VENDOR_VALIDATORS)
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        cdn.mode = vendor
        code, headers, data = await content(gw, task_id, {})
        assert code == 200 and data == VIDEO
        assert {name: headers[name] for name in VENDOR_VALIDATORS} == VENDOR_VALIDATORS
        for current in VENDOR_VALIDATORS.values():
            code, headers, data = await content(gw, task_id, {"Range": "bytes=4-11", "If-Range": current})
            assert code == 206 and data == b"ftypmp42" and headers["Content-Range"] == f"bytes 4-11/{len(VIDEO)}"
        for stale in STALE:
            code, headers, data = await content(gw, task_id, {"Range": "bytes=4-11", "If-Range": stale})
            assert code == 200 and data == VIDEO and "Content-Range" not in headers, stale


async def test_the_relay_cannot_validate_an_if_range_without_vendor_validators(acme_pm, tmp_path, cdn):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        code, headers, data = await content(gw, task_id, {"Range": "bytes=4-11", "If-Range": '"anything"'})
        assert code == 200 and data == VIDEO and "ETag" not in headers


@pytest.mark.parametrize("vendor", ["ok", "bare-416"])
async def test_the_relays_416_says_how_large_the_video_is(acme_pm, tmp_path, cdn, vendor):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=False) as gw:
        task_id = await completed(gw)
        cdn.mode = vendor
        code, headers, body = await content(gw, task_id, {"Range": f"bytes={len(VIDEO)}-"})
        assert code == 416 and headers["Content-Range"] == f"bytes */{len(VIDEO)}"
        assert json.loads(body)["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize("keep_results", [True, False], ids=["kept", "relayed"])
async def test_curl_resumes_a_download(acme_pm, tmp_path, cdn, keep_results):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    cdn.validators = dict(VENDOR_VALIDATORS)
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=keep_results) as gw:
        task_id = await completed(gw)
        out = tmp_path / "fox.mp4"
        out.write_bytes(VIDEO[:12345])  # what an interrupted download left
        command = [curl, "-sS", "-f", "-C", "-", "-o", str(out), "-H", f"Authorization: Bearer {gw.client.token}"]
        process = await asyncio.create_subprocess_exec(*command, f"{gw.base_url}/v1/videos/{task_id}/content")
        assert await process.wait() == 0
        assert out.read_bytes() == VIDEO


@pytest.mark.parametrize("keep_results", [True, False], ids=["kept", "relayed"])
async def test_an_http_client_resumes_with_if_range(acme_pm, tmp_path, cdn, keep_results):
    cdn.validators = dict(VENDOR_VALIDATORS)
    async with gateway_with_cdn(acme_pm, tmp_path, cdn, keep_results=keep_results) as gw:
        task_id = await completed(gw)
        url = f"{gw.base_url}/v1/videos/{task_id}/content"
        async with gw.client.http.get(url, headers=gw.client.headers) as response:
            first = await response.content.readexactly(12345)  # then the connection drops
            etag = response.headers["ETag"]
        resume = {"Range": f"bytes={len(first)}-", "If-Range": etag}
        code, headers, rest = await content(gw, task_id, resume)
        assert code == 206 and headers["Content-Range"] == f"bytes {len(first)}-{len(VIDEO) - 1}/{len(VIDEO)}"
        assert first + rest == VIDEO


async def content(gw, task_id: str, headers: dict[str, str], method: str = "GET") -> tuple[int, CIMultiDict, bytes]:
    """A download with these request headers; the response's headers are case-insensitive (ETag, Etag)."""
    url = f"{gw.base_url}/v1/videos/{task_id}/content"
    async with gw.client.http.request(method, url, headers={**gw.client.headers, **headers}) as response:
        return response.status, CIMultiDict(response.headers), await response.read()


async def test_a_kept_download_leaves_its_keep_alive_connection_usable(acme_pm, tmp_path, cdn, caplog):
    async with gateway_with_cdn(acme_pm, tmp_path, cdn) as gw:
        task_id = await completed(gw)
        url = f"{gw.base_url}/v1/videos/{task_id}/content"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            for extra in ({}, {"Range": "bytes=4-11"}, {}):
                async with http.get(url, headers={**gw.client.headers, **extra}) as response:
                    assert response.status in (200, 206) and len(await response.read()) in (8, len(VIDEO))
            async with http.get(f"{gw.base_url}/healthz") as response:  # the same connection, still whole
                assert response.status == 200
    assert not [record for record in caplog.records if record.name == "aiohttp.server"]  # sent once, closed cleanly
