"""Slow clients: the server closes connections that send their headers or body too slowly, or idle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import aiohttp
import attrs
import pytest
from acme_gateway import acme_gateway

from reelay.config import ConfigError, ServerConfig, parse_config
from reelay.testing import TEST_TOKEN

TIMEOUTS = ServerConfig(port=0, header_timeout=0.5, body_timeout=0.5, keepalive_timeout=0.5)


@pytest.fixture
async def gateway(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, server=TIMEOUTS) as running:
        yield running


@contextlib.asynccontextmanager
async def connection(base_url: str):
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        yield reader, writer
    finally:
        writer.close()


async def trickle(writer: asyncio.StreamWriter, data: bytes, every: float = 0.05) -> None:
    """Send ``data`` a byte at a time, until it is sent or the server hangs up."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


async def until_closed(reader: asyncio.StreamReader, within: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    async with asyncio.timeout(within):
        try:
            data = await reader.read(-1)
        except ConnectionResetError:
            data = b""
    return data, time.monotonic() - started


async def test_headers_sent_a_byte_at_a_time_are_cut_off_after_header_timeout(gateway):
    async with connection(gateway.base_url) as (reader, writer):
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"slow" * 100 + b"\r\n\r\n"
        sending = asyncio.create_task(trickle(writer, request))
        data, took = await until_closed(reader, within=3)
        sending.cancel()
        assert data == b"" and took < 1.5  # closed, without an answer, soon after 0.5 s


async def test_a_silent_connection_is_closed_after_header_timeout(gateway):
    async with connection(gateway.base_url) as (reader, _):
        data, took = await until_closed(reader, within=3)
        assert data == b"" and took < 1.5


async def test_a_body_sent_a_byte_at_a_time_is_a_408_after_body_timeout(gateway):
    async with connection(gateway.base_url) as (reader, writer):
        body = json.dumps({"model": "acme-1", "prompt": "a fox" * 20}).encode()
        head = (
            "POST /v1/video/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TEST_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode())
        sending = asyncio.create_task(trickle(writer, body))
        data, took = await until_closed(reader, within=3)
        sending.cancel()
        status, _, rest = data.partition(b"\r\n")
        assert status.startswith(b"HTTP/1.1 408 ") and took < 2
        error = json.loads(rest.partition(b"\r\n\r\n")[2])["error"]
        assert error["code"] == "request_timeout" and error["type"] == "invalid_request_error"


async def test_a_keep_alive_connection_slow_with_its_next_request_is_closed_after_keepalive_timeout(gateway):
    async with connection(gateway.base_url) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await reader.readuntil(b'"}')  # the whole first answer: keep-alive
        assert first.startswith(b"HTTP/1.1 200 ")
        sending = asyncio.create_task(trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 50))
        data, took = await until_closed(reader, within=3)
        sending.cancel()
        assert data == b"" and took < 1.5


async def test_a_prompt_client_is_unaffected_by_the_timeouts(gateway):
    for _ in range(3):
        status, task = await gateway.client.submit(model="acme-1", prompt="a fox")
        assert status == 200, task
        await asyncio.sleep(0.2)  # idle, but within keepalive_timeout


def test_server_timeouts_are_read_from_the_config_and_must_be_positive():
    config = parse_config({"server": {"header_timeout": 5, "body_timeout": 30.5, "keepalive_timeout": 20}})
    assert (config.server.header_timeout, config.server.body_timeout, config.server.keepalive_timeout) == (5, 30.5, 20)
    assert ServerConfig() == attrs.evolve(
        ServerConfig(), header_timeout=10.0, body_timeout=60.0, keepalive_timeout=15.0
    )
    with pytest.raises(ConfigError, match="body_timeout"):
        parse_config({"server": {"body_timeout": 0}})


async def test_reelay_serve_closes_slow_headers_after_the_configured_header_timeout(tmp_path):
    """The real command, from a config file: its server carries [server]'s timeouts, and SIGTERM stops it."""
    import os
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "reelay.toml"
    config.write_text(
        f'[server]\nport = {port}\nheader_timeout = 0.5\n[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        f'results_dir = "{tmp_path / "results"}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reelay.cli",
        "serve",
        "--config",
        str(config),
        env={**os.environ, "REELAY_PLUGINS": ""},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                async with connection(f"http://127.0.0.1:{port}") as (reader, writer):
                    sending = asyncio.create_task(trickle(writer, b"GET /healthz HTTP/1.1\r\nHost: x" + b"y" * 200))
                    data, took = await until_closed(reader, within=5)
                    sending.cancel()
                    break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("reelay serve did not start")
        assert data == b"" and took < 2
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0


async def test_max_connections_answers_429_past_the_cap(acme_pm, tmp_path):
    """Two event streams in flight fill a cap of 2: a third request is refused at once, served once they end."""
    server = attrs.evolve(TIMEOUTS, keepalive_timeout=5, max_connections=2)
    headers = {"Authorization": f"Bearer {TEST_TOKEN}"}
    async with (
        acme_gateway(acme_pm, tmp_path, generation_seconds=1.0, server=server) as gateway,
        aiohttp.ClientSession(gateway.base_url) as http,
    ):
        async with http.post(
            "/v1/video/generations", json={"model": "acme-1", "prompt": "a fox"}, headers=headers
        ) as r:
            task = await r.json()
        async with (
            http.get(f"/v1/videos/{task['id']}/events", headers=headers) as first,
            http.get(f"/v1/videos/{task['id']}/events", headers=headers) as second,
        ):
            assert first.status == second.status == 200
            async with http.get("/healthz") as refused:
                assert refused.status == 429 and refused.headers["Retry-After"] == "1"
                assert (await refused.json())["error"]["code"] == "too_many_connections"
            await first.read()
            await second.read()
        async with http.get("/healthz") as served:
            assert served.status == 200


def test_max_connections_is_parsed_and_checked():
    assert ServerConfig().max_connections == 0
    assert parse_config({"server": {"max_connections": 64}}).server.max_connections == 64
    for wrong in (-1, 1.5, "8"):
        with pytest.raises(ConfigError, match="max_connections"):
            parse_config({"server": {"max_connections": wrong}})


async def test_sigint_stops_reelay_demo_at_once_while_an_event_stream_is_open(tmp_path):
    """The README's two-terminal start: a task followed on its event stream, then Ctrl-C on the
    gateway. The stream ends and the process exits at once, not when the task would have ended."""
    import os
    import signal
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "reelay.cli", "demo", "--port", str(port), "--generation-seconds", "120"),
        *("--store", f"sqlite:///{tmp_path / 'demo.db'}"),
        env={key: value for key, value in os.environ.items() if key != "REELAY_PLUGINS"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "Bearer sk-reelay-demo"}
    try:
        async with aiohttp.ClientSession(base) as http:
            for _ in range(200):
                try:
                    async with http.get("/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("reelay demo did not start")
            async with http.get("/v1/models", headers=headers) as answer:
                models = (await answer.json())["data"]
            if not models:
                pytest.skip("no vendor plugin installed: the demo has no model to follow a task of")
            body = {"model": models[0]["id"], "prompt": "a fox in the snow"}
            async with http.post("/v1/video/generations", json=body, headers=headers) as answer:
                task = await answer.json()
            async with http.get(f"/v1/videos/{task['id']}/events", headers=headers) as stream:
                await stream.content.readline()  # the stream is open: its first event is on its way
                started = time.monotonic()
                process.send_signal(signal.SIGINT)
                with contextlib.suppress(aiohttp.ClientError):
                    await asyncio.wait_for(stream.read(), 10)  # ends with the gateway
        assert await asyncio.wait_for(process.wait(), 10) == 0
        assert time.monotonic() - started < 5, "the gateway waited for the task instead of ending its stream"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_700_slowloris_connections_are_cut_off_and_never_slow_a_prompt_client(gateway):
    """Issue 14's slow-client bar at scale: 700 connections each sending its headers a byte
    now and then (slowloris) are all closed after ``header_timeout``, and meanwhile a prompt
    client's requests are answered as quickly as ever."""
    count = 700
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 64

    async def slow_client() -> float:
        async with connection(gateway.base_url) as (reader, writer):
            writer.write(request[:20])
            sending = asyncio.create_task(trickle(writer, request[20:], every=0.2))
            try:
                data, took = await until_closed(reader, within=5)
            finally:
                sending.cancel()
            assert data == b"", "a slow client got an answer"
            return took

    slow = [asyncio.create_task(slow_client()) for _ in range(count)]
    await asyncio.sleep(0.1)  # most are connected and trickling
    latencies = []
    async with aiohttp.ClientSession(gateway.base_url) as http:
        for _ in range(20):
            started = time.monotonic()
            async with http.get("/v1/models", headers={"Authorization": f"Bearer {TEST_TOKEN}"}) as answer:
                assert answer.status == 200
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.01)
    closed_after = await asyncio.gather(*slow)
    assert max(latencies) < 0.5, latencies
    # header_timeout is 0.5 s: every slow connection closed soon after, none held for long.
    assert max(closed_after) < 2.5, sorted(closed_after)[-5:]
