"""Fetching a caller's image URL without letting it reach inside the network.

Some vendors take image bytes, not URLs, so their plugins download the URL a
caller sent. That download runs inside the gateway's network, so
:func:`fetch_image` refuses anything that is not a public http(s) address:
the host is resolved once, every address is checked, and the connection goes
to the checked address (the URL's host travels in ``Host`` and, for https,
in SNI and certificate checks), so a second DNS answer cannot swap in an
internal one. Redirects are followed by hand and each hop is checked again.
Every refusal is an :class:`reelay.InvalidRequest` naming the field.

What was fetched is judged by its bytes, not by the server's
``Content-Type``: a PNG served as ``application/octet-stream`` is a PNG, and
a page served as ``image/png`` is not an image. :func:`inline_images` fetches
every URL image of a request for models whose :class:`reelay.ImageRules`
say the vendor takes bytes, and checks each by those rules.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket

import aiohttp
import attrs
from yarl import URL

from .errors import InvalidRequest
from .images import check_image, sniff_image
from .models import GenerationRequest, ImageInput, ImageRules

MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = 15.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance-metadata endpoints of the big clouds. All of them are also
#: link-local, private or reserved; they are named so refusals say why.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS DNS
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IPv6
        "fd00:ec2::253",
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def fetch_image(
    http: aiohttp.ClientSession,
    url: str,
    *,
    param: str = "image",
    allow_loopback: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    rules: ImageRules | None = None,
) -> ImageInput:
    """Download an image a caller named by URL, refusing internal addresses.

    :param http: the session to connect with. Only public addresses are
        contacted, by IP, with the URL's host in ``Host``.
    :param url: the caller's http(s) URL.
    :param param: the request field the URL came from, named in refusals.
    :param allow_loopback: also allow loopback addresses (tests, demos);
        private, link-local and the rest stay refused.
    :param max_bytes: the largest body accepted; larger ones are refused
        while streaming, without reading the rest.
    :param timeout: seconds for the whole fetch, redirects included.
    :param rules: the model's image rules, checked on the fetched bytes
        (their ``max_bytes`` also caps the download).
    :return: the image as base64 with the MIME type its bytes show.
    :raises InvalidRequest: for every refusal, with ``param`` set.
    """
    if rules is not None and rules.max_bytes is not None:
        max_bytes = min(max_bytes, rules.max_bytes)
    try:
        async with asyncio.timeout(timeout):
            image, data = await _fetch(http, url, param, allow_loopback, max_bytes)
    except TimeoutError:
        raise InvalidRequest(
            f"{param}: the image URL did not answer within {timeout:g} seconds", param=param, code="image_fetch_failed"
        ) from None
    if rules is not None:
        check_image(image, rules, param, data)
    return image


async def inline_images(
    http: aiohttp.ClientSession,
    request: GenerationRequest,
    rules: ImageRules,
    *,
    allow_loopback: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> GenerationRequest:
    """``request`` with every URL image downloaded (concurrently) and checked by ``rules``.

    For vendors that take image bytes only (``ImageRules.inline_urls``).
    """

    async def inline(param: str, image: ImageInput | None) -> ImageInput | None:
        if image is None or image.url is None:
            return image
        fetched = await fetch_image(
            http, image.url, param=param, allow_loopback=allow_loopback, timeout=timeout, rules=rules
        )
        return attrs.evolve(fetched, filename=image.filename)

    first, last, *references = await asyncio.gather(
        inline("image", request.first_frame),
        inline("last_frame", request.last_frame),
        *(inline(f"reference_images[{i}]", image) for i, image in enumerate(request.reference_images)),
    )
    return attrs.evolve(
        request, first_frame=first, last_frame=last, reference_images=tuple(i for i in references if i is not None)
    )


async def _fetch(
    http: aiohttp.ClientSession, url: str, param: str, allow_loopback: bool, max_bytes: int
) -> tuple[ImageInput, bytes]:
    current = _parse(url, param)
    for _ in range(MAX_REDIRECTS + 1):
        address = await _checked_address(current, param, allow_loopback)
        headers = {"Host": _host_header(current), "Accept": "image/*"}
        pinned = current.with_host(str(address))
        try:
            async with http.get(
                pinned,
                headers=headers,
                allow_redirects=False,
                server_hostname=current.raw_host if current.scheme == "https" else None,
            ) as response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise _refuse(param, f"the image URL answered HTTP {response.status} without a Location")
                    current = _parse(str(current.join(URL(location))), param, redirected=True)
                    continue
                if response.status != 200:
                    raise _refuse(param, f"the image URL answered HTTP {response.status}")
                label = response.content_type.lower()
                data = await _read_capped(response, max_bytes, param)
        except aiohttp.ClientError as error:
            raise _refuse(param, f"the image URL could not be fetched ({type(error).__name__})") from None
        # The bytes decide; a label is kept only for image bytes the sniffer does not know.
        mime_type = sniff_image(data) or (label if label.startswith("image/") else None)
        if mime_type is None:
            raise _refuse(param, f"the image URL returned {label or 'no content type'}, not an image")
        return ImageInput(base64=base64.b64encode(data).decode("ascii"), mime_type=mime_type), data
    raise _refuse(param, f"the image URL redirected more than {MAX_REDIRECTS} times")


def _parse(url: str, param: str, *, redirected: bool = False) -> URL:
    where = "redirected to a URL that" if redirected else "the image URL"
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise _refuse(param, f"{where} is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise _refuse(param, f"{where} must use http or https, not {parsed.scheme or 'no scheme'}")
    if not parsed.raw_host:
        raise _refuse(param, f"{where} has no host")
    if parsed.user is not None or parsed.password is not None:
        raise _refuse(param, f"{where} must not carry credentials")
    return parsed


async def _checked_address(url: URL, param: str, allow_loopback: bool) -> IPAddress:
    """The address to connect to, after every address of the host passed the check."""
    host = url.raw_host or ""
    addresses = await _resolve(host, url.port, param)
    for address in addresses:
        reason = refusal_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise _refuse(param, f"the image URL's host {shown} is {reason}; only public addresses are fetched")
    return addresses[0]


async def _resolve(host: str, port: int | None, param: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise _refuse(param, f"the image URL's host {host} could not be resolved") from None
    addresses: list[IPAddress] = []
    for family, *_rest, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _refuse(param, f"the image URL's host {host} has no usable address")
    return addresses


def refusal_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why ``address`` must not be fetched from, or None when it is public.

    IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are judged as the
    IPv4 address they reach.
    """
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal_reason(embedded, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int, param: str) -> bytes:
    too_large = f"the image is larger than {max_bytes} bytes"
    if response.content_length is not None and response.content_length > max_bytes:
        raise _refuse(param, too_large)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise _refuse(param, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return host if url.explicit_port is None or url.is_default_port() else f"{host}:{url.explicit_port}"


def _refuse(param: str, reason: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: {reason}", param=param, code="image_fetch_failed")


# ---------------------------------------------------------------- URLs the gateway calls on its own
# Webhook receivers are called by the gateway, so their URLs pass the same
# guard as image URLs: at configuration, at request time and at each call.


class UnsafeURL(ValueError):
    """A URL the gateway will not call; ``str()`` says why."""


def _parse_plain(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        raise UnsafeURL("not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeURL(f"must use http or https, not {parsed.scheme or 'no scheme'}")
    if not parsed.raw_host:
        raise UnsafeURL("has no host")
    if parsed.user is not None or parsed.password is not None:
        raise UnsafeURL("must not carry credentials")
    return parsed


def _judge(host: str, addresses: list[IPAddress], allow_loopback: bool) -> IPAddress:
    for address in addresses:
        reason = refusal_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise UnsafeURL(f"host {shown} is {reason}; only public addresses are called")
    return addresses[0]


def url_refusal(url: str, *, allow_loopback: bool = False) -> str | None:
    """Why the gateway must not call ``url``, or None (blocking: for configuration checks).

    A host that does not resolve now is not refused here: DNS may be down at
    start-up, and each call checks again.
    """
    try:
        parsed = _parse_plain(url)
        host = parsed.raw_host or ""
        try:
            addresses = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            try:
                infos = socket.getaddrinfo(host, parsed.port or 80, type=socket.SOCK_STREAM)
            except (OSError, UnicodeError):
                return None
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if addresses:
            _judge(host, addresses, allow_loopback)
    except UnsafeURL as error:
        return f"{url.split('?', 1)[0]}: {error}"
    return None


async def public_address(url: str, *, allow_loopback: bool = False) -> tuple[URL, IPAddress]:
    """The parsed ``url`` and the checked address to connect to (its host resolved once).

    :raises UnsafeURL: not http(s), unresolvable, or any address not public.
    """
    parsed = _parse_plain(url)
    host = parsed.raw_host or ""
    try:
        addresses = await _resolve(host, parsed.port, "url")
    except InvalidRequest:
        raise UnsafeURL(f"host {host} could not be resolved") from None
    return parsed, _judge(host, addresses, allow_loopback)


def pinned(url: URL, address: IPAddress) -> tuple[URL, dict[str, str], str | None]:
    """What to call instead of ``url``: the URL with the checked address, the Host
    header, and the name for TLS (SNI and certificate checks)."""
    return url.with_host(str(address)), {"Host": _host_header(url)}, url.raw_host if url.scheme == "https" else None
