"""reelay generate and reelay tasks against a real gateway on loopback.

The CLI runs in a worker thread (CliRunner) while the gateway serves on the
test's event loop. A breaking proxy in front of the gateway drops the content
stream mid-way to show downloads resume with ``Range``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket

import acme
import pytest
import structlog
from acme_gateway import OTHER_TOKEN, acme_gateway
from aiohttp import ClientSession, web
from click.testing import CliRunner

from reelay import hookimpl
from reelay.cli import cli
from reelay.client import DownloadInterrupted, ReelayClient, partial_path
from reelay.demo import DEMO_TOKEN, demo_banner, demo_environment
from reelay.emulation import sample_asset, sample_clip, serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import TEST_TOKEN, running_gateway

VIDEO = sample_clip(4, 1280, 720)  # what acme-1 makes by default: 4 s, landscape


@pytest.fixture(autouse=True)
def quiet_gateway_logs():
    """The gateway logs to sys.stdout, which CliRunner swaps for the CLI's: keep its lines out of the CLI output."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
    yield
    structlog.configure(**saved)


async def run(args, base_url, token=TEST_TOKEN, **env):
    """``reelay ARGS`` with REELAY_BASE_URL/REELAY_API_KEY set, in a thread; the click Result."""
    environment = {"REELAY_BASE_URL": base_url, "REELAY_API_KEY": token, **env}
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=environment, catch_exceptions=False)


def assert_playable(path, expected=VIDEO):
    data = path.read_bytes()
    assert data[4:8] == b"ftyp", data[:16]
    assert len(data) == len(expected) and data == expected
    assert not partial_path(path).exists()


async def submit(gw, **fields):
    status, task = await gw.client.submit(**{"model": "acme-1", "prompt": "a fox", **fields})
    assert status == 200, task
    return task


@pytest.mark.parametrize(
    "command",
    [["generate"], ["tasks"], *[["tasks", c] for c in ("list", "show", "wait", "download", "delete", "remix")]],
)
def test_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


# ---------------------------------------------------------------- generate


async def test_generate_waits_and_saves_a_playable_mp4(gateway, tmp_path):
    out = tmp_path / "fox.mp4"
    result = await run(
        ["generate", "--model", "acme-1", "--prompt", "a red fox", "--wait", "-o", str(out)], gateway.base_url
    )
    assert result.exit_code == 0, result.output
    assert_playable(out)
    assert f"Saved {out}" in result.stdout
    assert "completed" in result.stderr and "100%" in result.stderr  # the progress bar's last state


async def test_generate_json_sends_a_local_image_as_base64(gateway, tmp_path):
    image = tmp_path / "frame.png"
    image.write_bytes(sample_asset("sample.png"))
    args = ["generate", "-m", "acme-1", "-p", "move", "--image", str(image), "--seconds", "6", "--size", "16:9"]
    result = await run([*args, "--meta", "seed=7", "--meta", "style=noir", "--json"], gateway.base_url)
    assert result.exit_code == 0, result.output
    task = json.loads(result.stdout)
    assert task["status"] in ("queued", "in_progress") and task["seconds"] == "6"
    stored = await gateway.dispatcher.store.get(task["id"], with_request=True)
    assert stored.request.first_frame.mime_type == "image/png"
    assert stored.request.first_frame.base64 == __import__("base64").b64encode(image.read_bytes()).decode()
    assert stored.request.extra == {"seed": 7, "style": "noir"}


async def test_generate_json_wait_reports_the_file(gateway, tmp_path):
    out = tmp_path / "f.mp4"
    result = await run(["generate", "-m", "acme-1", "-p", "fox", "-o", str(out), "--json"], gateway.base_url)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "completed" and answer["file"] == str(out.resolve())
    assert_playable(out)


async def test_generate_failure_is_one_line_and_non_zero(gateway, tmp_path):
    result = await run(
        ["generate", "-m", "acme-1", "-p", "doomed [emulate:fail]", "-w", "-o", str(tmp_path / "x.mp4")],
        gateway.base_url,
    )
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "failed" in line and "(code " in line
    assert not (tmp_path / "x.mp4").exists()


async def test_gateway_errors_are_one_line_with_the_code(gateway):
    result = await run(["generate", "-m", "no-such-model", "-p", "fox"], gateway.base_url)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "Error: model 'no-such-model' does not exist (code model_not_found, HTTP 404)"
    ]
    result = await run(["generate", "-m", "acme-1", "-p", "fox", "--json"], gateway.base_url, token="sk-wrong")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "invalid_api_key"
    result = await run(["generate", "-m", "acme-1", "--duration", "4", "--seconds", "4"], gateway.base_url)
    assert result.exit_code == 2 and "not both" in result.output
    result = await run(["generate", "-m", "acme-1", "--image", "/no/such/file.png"], gateway.base_url)
    assert result.exit_code == 1 and "no such file" in result.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused_is_one_clear_line():
    base = f"http://127.0.0.1:{_free_port()}"
    result = await run(["tasks", "list"], base)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: cannot reach the gateway at {base} (connection refused)")
    result = await run(["tasks", "list", "--json"], base)
    assert json.loads(result.stdout)["error"]["code"] == "gateway_unreachable"


async def test_ctrl_c_leaves_the_task_running_and_says_how_to_resume(gateway, tmp_path, monkeypatch):
    def interrupted(self, task_id, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ReelayClient, "wait", interrupted)
    out = tmp_path / "fox.mp4"
    result = await run(["generate", "-m", "acme-1", "-p", "fox", "-w", "-o", str(out)], gateway.base_url)
    assert result.exit_code == 130
    [task] = (await gateway.dispatcher.list_tasks(gateway.dispatcher.config.tokens[0]))[:1]
    assert f"reelay tasks wait {task.id} -o {out}" in result.stderr
    monkeypatch.undo()
    result = await run(["tasks", "wait", task.id, "-o", str(out)], gateway.base_url)
    assert result.exit_code == 0, result.output
    assert_playable(out)


# ---------------------------------------------------------------- tasks


async def test_tasks_list_and_show(gateway):
    first = await submit(gateway, prompt="first fox")
    second = await submit(gateway, prompt="second fox")
    result = await run(["tasks", "list"], gateway.base_url)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "model", "status"]
    assert second["id"] in lines[1] and first["id"] in lines[2] and "second fox" in lines[1]
    result = await run(["tasks", "list", "--json", "--limit", "1"], gateway.base_url)
    page = json.loads(result.stdout)
    assert [t["id"] for t in page["data"]] == [second["id"]] and page["has_more"] is True
    result = await run(["tasks", "list", "--after", page["last_id"]], gateway.base_url)
    assert first["id"] in result.stdout and second["id"] not in result.stdout
    result = await run(["tasks", "list"], gateway.base_url, token=OTHER_TOKEN)
    assert result.exit_code == 0 and "No tasks yet" in result.stdout
    result = await run(["tasks", "show", first["id"]], gateway.base_url)
    assert result.exit_code == 0 and "first fox" in result.stdout and "acme-1" in result.stdout
    result = await run(["tasks", "show", first["id"], "--json"], gateway.base_url)
    assert json.loads(result.stdout)["id"] == first["id"]
    result = await run(["tasks", "show", "video_nope"], gateway.base_url)
    assert result.exit_code == 1 and "(code task_not_found, HTTP 404)" in result.stderr


async def test_tasks_wait_and_download(gateway, tmp_path):
    task = await submit(gateway)
    result = await run(["tasks", "wait", task["id"], "--json"], gateway.base_url)
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "completed"
    out = tmp_path / "again.mp4"
    result = await run(["tasks", "download", task["id"], "-o", str(out)], gateway.base_url)
    assert result.exit_code == 0, result.output
    assert_playable(out)
    result = await run(["tasks", "download", task["id"], "-o", str(out), "--json"], gateway.base_url)
    assert json.loads(result.stdout) == {"id": task["id"], "file": str(out.resolve()), "bytes": len(VIDEO)}


async def test_download_before_completion_is_a_409_line(gateway, tmp_path):
    task = await submit(gateway)
    result = await run(["tasks", "download", task["id"], "-o", str(tmp_path / "x.mp4")], gateway.base_url)
    assert result.exit_code == 1 and "(code task_not_ready, HTTP 409)" in result.stderr


async def test_download_of_an_unfinished_task_is_one_line_before_any_progress_bar(gateway, tmp_path):
    task = await submit(gateway)
    out = tmp_path / "x.mp4"
    result = await run(["tasks", "download", task["id"], "-o", str(out)], gateway.base_url)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "task_not_ready" in line and f"reelay tasks wait {task['id']}" in line
    assert "downloading" not in result.stderr and not out.exists()


@pytest.mark.parametrize("command", ["download", "wait"])
async def test_output_into_a_missing_folder_is_one_line_before_any_request(gateway, tmp_path, command):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    out = tmp_path / "no-such-folder" / "x.mp4"
    result = await run(["tasks", command, task["id"], "-o", str(out)], gateway.base_url)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot save to {out}: the folder {out.parent} does not exist"
    ]
    result = await run(["generate", "-m", "acme-1", "-p", "fox", "-o", str(out)], gateway.base_url)
    assert result.exit_code == 1 and "does not exist" in result.stderr
    assert len(await gateway.dispatcher.list_tasks(gateway.dispatcher.config.tokens[0])) == 1  # nothing submitted


async def test_tasks_delete(gateway):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    result = await run(["tasks", "delete", task["id"]], gateway.base_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Deleted {task['id']}"
    result = await run(["tasks", "show", task["id"]], gateway.base_url)
    assert result.exit_code == 1 and "(code task_not_found, HTTP 404)" in result.stderr
    other = await submit(gateway)
    result = await run(["tasks", "delete", other["id"], "--json"], gateway.base_url)
    assert json.loads(result.stdout) == {"id": other["id"], "object": "video.deleted", "deleted": True}


class AcmeRemix:
    """A remix for the test vendor, which has none: a new acme job with the new prompt."""

    @hookimpl
    def reelay_remix(self, task, prompt, channel, http):
        return acme._submit({"model": task.model, "text": prompt, "length": 4, "frame": "1280x720"}, channel, http)


async def test_tasks_remix(acme_pm, tmp_path):
    pm = make_plugin_manager(load_entry_points=False, plugins=[acme, AcmeRemix()])
    async with acme_gateway(pm, tmp_path) as gateway:
        task = await submit(gateway)
        result = await run(["tasks", "remix", task["id"], "--prompt", "by night"], gateway.base_url)
        assert result.exit_code == 1 and "only completed videos can be remixed" in result.stderr
        await gateway.client.wait(task["id"])
        result = await run(["tasks", "remix", task["id"], "--prompt", "by night", "--json"], gateway.base_url)
        assert result.exit_code == 0, result.output
        remix = json.loads(result.stdout)
        assert remix["id"] != task["id"] and remix["prompt"] == "by night"
        out = tmp_path / "night.mp4"
        result = await run(["tasks", "remix", task["id"], "-p", "by night", "-o", str(out)], gateway.base_url)
        assert result.exit_code == 0, result.output
        assert_playable(out)


async def test_tasks_remix_where_the_vendor_has_none_is_one_line(gateway):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    result = await run(["tasks", "remix", task["id"], "--prompt", "by night"], gateway.base_url)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert f"task {task['id']} cannot be remixed" in line and "(code remix_not_supported, HTTP 400)" in line


async def test_tasks_cancel(gateway, monkeypatch):
    task = await submit(gateway)
    result = await run(["tasks", "cancel", task["id"]], gateway.base_url)
    assert result.exit_code == 0, result.output
    assert "Cancelled" in result.stdout and "cancelled" in result.stdout
    result = await run(["tasks", "cancel", task["id"]], gateway.base_url)
    assert result.exit_code == 1 and "(code task_ended, HTTP 409)" in result.stderr
    # A vendor that cannot cancel: the gateway answers 400 cancel_not_supported.
    # No plugin answers the cancel hook for the acme channel (the vendor hooks a channel's calls go through).
    acme_hooks = gateway.dispatcher.context.hooks(gateway.dispatcher.channels["acme-main"])
    monkeypatch.setattr(acme_hooks, "reelay_cancel", lambda **kwargs: None, raising=False)
    task = await submit(gateway)
    result = await run(["tasks", "cancel", task["id"]], gateway.base_url)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"Error: task {task['id']} cannot be cancelled: vendor acme offers no cancel, so it keeps running"
        " (code cancel_not_supported, HTTP 400)"
    )  # the gateway's message, said once
    result = await run(["tasks", "cancel", task["id"], "--json"], gateway.base_url)
    assert json.loads(result.stdout)["error"]["code"] == "cancel_not_supported"


# ---------------------------------------------------------------- interrupted downloads


@contextlib.asynccontextmanager
async def breaking_proxy(target: str, breaks: int):
    """A proxy to ``target`` whose first ``breaks`` content responses stop half-way; records Range headers."""
    seen: list[str | None] = []
    remaining = [breaks]

    async def forward(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "Range", "Content-Type")}
        async with http.request(
            request.method, target + request.path_qs, headers=headers, data=await request.read()
        ) as up:
            body = await up.read()
            passed = {k: v for k, v in up.headers.items() if k in ("Content-Type", "Content-Range", "Accept-Ranges")}
        if not request.path.endswith("/content"):
            return web.Response(status=up.status, body=body, headers=passed)
        seen.append(request.headers.get("Range"))
        if remaining[0] <= 0 or up.status >= 400:
            return web.Response(status=up.status, body=body, headers=passed)
        remaining[0] -= 1
        response = web.StreamResponse(status=up.status, headers=passed)
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    async with ClientSession() as http, serve_app(app) as url:
        yield url, seen


async def test_a_broken_download_resumes_with_range(gateway, tmp_path):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    async with breaking_proxy(gateway.base_url, breaks=2) as (proxy, seen):
        out = tmp_path / "resumed.mp4"
        result = await run(["tasks", "download", task["id"], "-o", str(out)], proxy)
        assert result.exit_code == 0, result.output
        assert_playable(out)
        half = len(VIDEO) // 2
        assert seen == [None, f"bytes={half}-", f"bytes={half + (len(VIDEO) - half) // 2}-"]


async def test_a_partial_file_from_an_earlier_run_is_resumed(gateway, tmp_path):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    out = tmp_path / "later.mp4"
    partial_path(out).write_bytes(VIDEO[:1000])
    async with breaking_proxy(gateway.base_url, breaks=0) as (proxy, seen):
        result = await run(["tasks", "download", task["id"], "-o", str(out)], proxy)
    assert result.exit_code == 0, result.output
    assert seen == ["bytes=1000-"]
    assert_playable(out)


async def test_a_download_that_keeps_breaking_keeps_the_part(gateway, tmp_path):
    task = await submit(gateway)
    await gateway.client.wait(task["id"])
    out = tmp_path / "flaky.mp4"
    async with breaking_proxy(gateway.base_url, breaks=99) as (proxy, seen):
        client = ReelayClient(proxy, TEST_TOKEN)
        with pytest.raises(DownloadInterrupted) as caught:
            await asyncio.to_thread(client.download, task["id"], out, attempts=3, retry_delay=0)
        assert len(seen) == 3 and not out.exists()
        assert caught.value.partial == partial_path(out) and VIDEO.startswith(partial_path(out).read_bytes())
        result = await run(["tasks", "download", task["id"], "-o", str(out)], proxy)
        assert result.exit_code == 1 and "download_interrupted" not in result.stderr and "resumes" in result.stderr
    result = await run(["tasks", "download", task["id"], "-o", str(out)], gateway.base_url)
    assert result.exit_code == 0
    assert_playable(out)


# ---------------------------------------------------------------- the demo, whatever plugins are installed


async def test_demo_generate_ends_with_a_playable_mp4(acme_pm, tmp_path):
    """The demo's path from the banner to a file, on the test vendor: no installed plugin changes it."""
    registry = Registry.collect(acme_pm)
    async with contextlib.AsyncExitStack() as stack:
        setup = await stack.enter_async_context(
            demo_environment(port=0, generation_seconds=0.3, pm=acme_pm, results_dir=str(tmp_path / "r"))
        )
        gw = await stack.enter_async_context(running_gateway(setup.config, pm=acme_pm, token=DEMO_TOKEN))
        banner = demo_banner(setup, DEMO_TOKEN, registry)
        assert f"export REELAY_API_KEY={DEMO_TOKEN}" in banner and "export REELAY_BASE_URL=" in banner
        assert "reelay generate --model acme-1 " in banner  # the only text-to-video model
        out = tmp_path / "fox.mp4"
        args = ["generate", "--model", "acme-1", "--prompt", "a red fox", "--wait", "-o", str(out)]
        result = await run(args, gw.base_url, token=DEMO_TOKEN)
        assert result.exit_code == 0, result.output
        assert_playable(out)


async def test_without_an_api_key_the_401_says_how_to_give_one(gateway):
    result = await run(["models"], gateway.base_url, token="")
    assert result.exit_code == 1 and "REELAY_API_KEY" in result.stderr
