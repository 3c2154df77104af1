"""reelay.fetch.fetch_image: real servers on loopback, and every refusal."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

from reelay import InvalidRequest
from reelay.emulation import sample_asset
from reelay.fetch import fetch_image, refusal_reason

PNG = sample_asset("sample.png")


class NoNetwork:
    """A session stand-in that fails the test if anything is contacted."""

    def get(self, *args, **kwargs):
        raise AssertionError("fetch_image connected to an address it should have refused")

    request = get


@pytest.fixture
def mocked():
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def image_server(aiohttp_server):
    """A loopback server with images, redirects and misbehaving routes; records each hit."""
    hits: list[str] = []

    async def png(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    async def redirect(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(request.query["to"])

    async def loop(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound("/loop")

    async def html(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<html></html>", content_type="text/html")

    async def big(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"\x89PNG" + b"\0" * 4096, content_type="image/png")

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"\0" * 1024)
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        hits.append(request.path)
        await asyncio.sleep(5)
        return web.Response(body=PNG, content_type="image/png")

    async def missing(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPNotFound()

    async def host(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Host", ""))
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/cat.png", png)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/page", html)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/slow", slow)
    app.router.add_get("/missing", missing)
    app.router.add_get("/host", host)
    server = await aiohttp_server(app, host="127.0.0.1")
    server.hits = hits
    return server


def url_of(server, path: str) -> str:
    return str(server.make_url(path))


# ---------------------------------------------------------------- fetching


async def test_fetches_an_image_on_loopback_when_allowed(http, image_server):
    image = await fetch_image(http, url_of(image_server, "/cat.png"), allow_loopback=True)
    assert image.mime_type == "image/png"
    assert base64.b64decode(image.base64) == PNG
    assert image.url is None


async def test_follows_redirects_checking_each_hop(http, image_server):
    target = url_of(image_server, "/cat.png")
    image = await fetch_image(http, url_of(image_server, f"/redirect?to={target}"), allow_loopback=True)
    assert base64.b64decode(image.base64) == PNG
    assert image_server.hits == ["/redirect", "/cat.png"]


async def test_relative_redirects_resolve_against_the_current_url(http, image_server):
    image = await fetch_image(http, url_of(image_server, "/redirect?to=/cat.png"), allow_loopback=True)
    assert base64.b64decode(image.base64) == PNG


async def test_sends_the_url_host_in_the_host_header(http, image_server):
    await fetch_image(http, url_of(image_server, "/host"), allow_loopback=True)
    assert image_server.hits == [f"127.0.0.1:{image_server.port}"]


async def test_connects_to_the_address_it_checked(http, mocked, monkeypatch):
    """A second DNS answer (rebinding) cannot change where the request goes."""
    answers = iter(["93.184.216.34", "127.0.0.1"])

    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    mocked.get("https://93.184.216.34/cat.png", body=PNG, content_type="image/png")
    image = await fetch_image(http, "https://images.example/cat.png")
    ((_method, url), calls) = next(iter(mocked.requests.items()))
    assert base64.b64decode(image.base64) == PNG
    assert url.host == "93.184.216.34"
    assert calls[0].kwargs["headers"]["Host"] == "images.example"
    assert calls[0].kwargs["server_hostname"] == "images.example"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/cat.png", "private"),
        ("http://192.168.1.20/cat.png", "private"),
        ("http://172.16.5.4/cat.png", "private"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://100.100.100.200/latest/meta-data/", "cloud metadata"),
        ("http://169.254.10.10/x.png", "link-local"),
        ("http://[fe80::1]/x.png", "link-local"),
        ("http://0.0.0.0/x.png", "unspecified"),
        ("http://[::]/x.png", "unspecified"),
        ("http://224.0.0.1/x.png", "multicast"),
        ("http://240.0.0.1/x.png", "reserved"),
        ("http://[::ffff:10.0.0.1]/x.png", "private"),
        ("http://[64:ff9b::a00:1]/x.png", "private"),
        ("http://100.64.0.1/x.png", "not a public"),
    ],
)
async def test_refuses_internal_literal_addresses_before_connecting(url, reason):
    with pytest.raises(InvalidRequest) as caught:
        await fetch_image(NoNetwork(), url, param="images[0]", allow_loopback=True)
    assert reason in caught.value.message
    assert caught.value.param == "images[0]"
    assert caught.value.status == 400


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.png", "http://[::1]:9/x.png", "http://127.8.9.10/x.png"])
async def test_refuses_loopback_unless_allowed(url):
    with pytest.raises(InvalidRequest, match="loopback"):
        await fetch_image(NoNetwork(), url)


async def test_refuses_a_name_that_resolves_to_loopback():
    with pytest.raises(InvalidRequest, match=r"localhost \(.*\) is a loopback address"):
        await fetch_image(NoNetwork(), "http://localhost:9/cat.png")


async def test_refuses_a_name_with_any_internal_address(monkeypatch):
    async def getaddrinfo(host, port, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(InvalidRequest, match="private"):
        await fetch_image(NoNetwork(), "https://mixed.example/cat.png")


async def test_refuses_a_name_that_does_not_resolve():
    with pytest.raises(InvalidRequest, match="could not be resolved"):
        await fetch_image(NoNetwork(), "http://no-such-host.invalid/cat.png")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/cat.png", "gopher://example.com/", "cat.png", "http:///x"]
)
async def test_refuses_other_schemes_and_malformed_urls(url):
    with pytest.raises(InvalidRequest) as caught:
        await fetch_image(NoNetwork(), url)
    assert caught.value.param == "image"


async def test_refuses_credentials_in_the_url():
    with pytest.raises(InvalidRequest, match="credentials"):
        await fetch_image(NoNetwork(), "https://user:secret@example.com/cat.png")


async def test_refuses_a_redirect_to_a_private_address(http, image_server):
    with pytest.raises(InvalidRequest, match=r"10\.0\.0\.1 is a private address"):
        await fetch_image(http, url_of(image_server, "/redirect?to=http://10.0.0.1/cat.png"), allow_loopback=True)


async def test_refuses_a_redirect_to_the_metadata_service(http, image_server):
    target = "http://169.254.169.254/computeMetadata/v1/"
    with pytest.raises(InvalidRequest, match="cloud metadata"):
        await fetch_image(http, url_of(image_server, f"/redirect?to={target}"), allow_loopback=True)


async def test_refuses_a_redirect_to_loopback_when_loopback_is_not_allowed(http, mocked, monkeypatch):
    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    mocked.get("https://93.184.216.34/cat.png", status=302, headers={"Location": "http://127.0.0.1:8080/admin"})
    with pytest.raises(InvalidRequest, match=r"127\.0\.0\.1 is a loopback address"):
        await fetch_image(http, "https://images.example/cat.png")
    assert len(mocked.requests) == 1


async def test_refuses_a_redirect_to_another_scheme(http, image_server):
    with pytest.raises(InvalidRequest, match="http or https"):
        await fetch_image(http, url_of(image_server, "/redirect?to=file:///etc/passwd"), allow_loopback=True)


async def test_refuses_endless_redirects(http, image_server):
    with pytest.raises(InvalidRequest, match="more than 5 times"):
        await fetch_image(http, url_of(image_server, "/loop"), allow_loopback=True)
    assert len(image_server.hits) == 6


async def test_refuses_an_oversized_image(http, image_server):
    with pytest.raises(InvalidRequest, match="larger than 1024 bytes"):
        await fetch_image(http, url_of(image_server, "/big"), allow_loopback=True, max_bytes=1024)


async def test_refuses_an_oversized_image_while_streaming(http, image_server):
    with pytest.raises(InvalidRequest, match="larger than 2048 bytes"):
        await fetch_image(http, url_of(image_server, "/big-chunked"), allow_loopback=True, max_bytes=2048)


async def test_refuses_a_body_that_is_not_an_image(http, image_server):
    with pytest.raises(InvalidRequest, match="text/html, not an image"):
        await fetch_image(http, url_of(image_server, "/page"), allow_loopback=True)


async def test_refuses_an_error_answer(http, image_server):
    with pytest.raises(InvalidRequest, match="HTTP 404"):
        await fetch_image(http, url_of(image_server, "/missing"), allow_loopback=True)


async def test_gives_up_after_the_timeout(http, image_server):
    with pytest.raises(InvalidRequest, match=r"within 0\.2 seconds"):
        await fetch_image(http, url_of(image_server, "/slow"), allow_loopback=True, timeout=0.2)


async def test_refuses_a_closed_port(http, unused_tcp_port):
    with pytest.raises(InvalidRequest, match="could not be fetched"):
        await fetch_image(http, f"http://127.0.0.1:{unused_tcp_port}/x.png", allow_loopback=True)


def test_public_addresses_pass():
    assert refusal_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert refusal_reason(ipaddress.ip_address("2606:4700::1111")) is None
    assert refusal_reason(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert refusal_reason(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) == "a private address"
