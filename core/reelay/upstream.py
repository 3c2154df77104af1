"""Vendor-neutral HTTP helpers for plugins calling their vendor.

One place turns connection errors, timeouts and non-JSON answers into
:class:`reelay.UpstreamError`, so every plugin reports them the same way and
never leaks a credential into a message.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
import orjson

from .errors import FailureKind, UpstreamError

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
#: Bodies above this size are sent from a stream: aiohttp copies (and warns about) one large bytes payload.
_STREAM_ABOVE = 256 * 1024


@attrs.frozen
class JsonResponse:
    """An upstream answer: HTTP status, parsed JSON body (or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    text: str = attrs.field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


async def request_json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    vendor: str,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    data: Any = None,
    params: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> JsonResponse:
    """Send one request and read a JSON answer, whatever its status.

    The caller decides what a non-2xx status means for its vendor. Connection
    failures and timeouts raise ``UpstreamError(TRANSIENT)``.
    """
    if json_body is not None:
        encoded = orjson.dumps(json_body)
        # Bodies carrying base64 images run to megabytes.
        data = io.BytesIO(encoded) if len(encoded) > _STREAM_ABOVE else encoded
        headers = {**(headers or {}), "Content-Type": "application/json"}
    try:
        async with http.request(
            method,
            url,
            headers=headers,
            data=data,
            params=params,
            timeout=timeout or DEFAULT_TIMEOUT,
        ) as response:
            raw = await response.read()
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = None
            text = raw[:500].decode("utf-8", errors="replace")
            return JsonResponse(response.status, body, response.headers, text)
    except TimeoutError:
        raise UpstreamError(
            FailureKind.TRANSIENT, f"{vendor} did not answer in time", code="upstream_timeout"
        ) from None
    except aiohttp.ClientError as error:
        raise UpstreamError(
            FailureKind.TRANSIENT, f"could not reach {vendor}: {type(error).__name__}", code="upstream_unreachable"
        ) from None


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (an origin, maybe with a trailing slash) joined with an absolute ``path``."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")
