"""A response that broke after it started: a short body and a closed connection, never a second response."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from reelay.emulation import serve_app
from reelay.http.app import error_middleware
from reelay.http.common import OWNS_ALL_ROUTES
from reelay.http.streaming import start_stream


async def events(request: web.Request) -> web.StreamResponse:
    """A streaming route (say, server-sent events) whose source fails after the first event."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    response.enable_chunked_encoding()
    await start_stream(request, response)
    await response.write(b"data: first\n\n")
    raise RuntimeError("the event source went away")


async def sized(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = 1000
    await start_stream(request, response)
    await response.write(b"x" * 400)
    raise RuntimeError("the source went away")


@pytest.fixture
async def base_url():
    app = web.Application(middlewares=[error_middleware])
    app[OWNS_ALL_ROUTES] = True
    app.router.add_get("/events", events)
    app.router.add_get("/sized", sized)
    async with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("path", ["/events", "/sized"])
async def test_an_error_after_a_stream_started_breaks_the_connection_instead_of_a_second_response(
    base_url, path, capsys
):
    async with aiohttp.ClientSession() as http, http.get(base_url + path) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    async with asyncio.timeout(3):  # closed at once, not kept alive
        data = await reader.read(-1)
    writer.close()
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1") == 1
    assert b"server_error" not in data
    assert "response broken off" in capsys.readouterr().out


async def test_an_error_before_a_stream_started_is_still_the_json_error():
    async def early(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("before anything was sent")

    app = web.Application(middlewares=[error_middleware])
    app[OWNS_ALL_ROUTES] = True
    app.router.add_get("/early", early)
    async with serve_app(app) as url, aiohttp.ClientSession() as http, http.get(url + "/early") as response:
        assert response.status == 500
        assert (await response.json())["error"]["type"] == "server_error"
