"""Serving a finished video: the kept copy from disk, or relayed from the vendor.

A kept file goes out with ``sendfile(2)``; a result that was not kept is
relayed from the vendor as it arrives, never held whole in memory. Both
answer a single ``Range``, honour ``If-Range`` (RFC 9110) against the
validators they send (``ETag``, ``Last-Modified``: the kept file's own, the
vendor's for a relay), and end a download that breaks off after it started
with a short body (:mod:`reelay.http.streaming`).
"""

from __future__ import annotations

import math
import os
import re
from email.utils import formatdate

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from ..engine.keeping import open_upstream
from ..errors import ReelayError, UpstreamUnavailable
from ..models import ContentSource
from .ranges import if_range_holds, parse_range, unsatisfiable
from .streaming import break_stream, start_stream

_VALIDATORS = ("ETag", "Last-Modified")
_UNSATISFIED = re.compile(r"^bytes \*/(\d+)$")

# ---------------------------------------------------------------- relaying


async def proxy_content(request: web.Request, source: ContentSource, http: aiohttp.ClientSession) -> web.StreamResponse:
    """Stream an upstream body to the caller, forwarding ``Range`` and ``If-Range``."""
    method = "HEAD" if request.method == "HEAD" else "GET"
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range") if wanted else None
    upstream = await open_upstream(http, source, method=method, range_header=wanted, if_range=if_range)
    if wanted and not if_range_holds(if_range, upstream.headers.get("ETag"), upstream.headers.get("Last-Modified")):
        # The caller's piece is of another version (or cannot be checked): the whole video.
        wanted = None
        if upstream.status == 206:  # the vendor did not apply If-Range itself
            upstream.release()
            upstream = await open_upstream(http, source, method=method)
    try:
        return await _relay(request, upstream, source, wanted, http)
    finally:
        upstream.release()


async def _relay(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    source: ContentSource,
    wanted: str | None,
    http: aiohttp.ClientSession,
) -> web.StreamResponse:
    if upstream.status == 416:
        raise unsatisfiable(await _complete_length(upstream, source, http))
    if upstream.status >= 400:
        raise ReelayError(
            f"the vendor answered {upstream.status} for the content", code="upstream_content_unavailable", status=502
        )
    content_type = source.mime_type or upstream.headers.get("Content-Type") or "application/octet-stream"
    response = web.StreamResponse(status=upstream.status if upstream.status == 206 else 200)
    response.content_type = content_type.split(";")[0]
    response.headers["Accept-Ranges"] = "bytes"
    for name in _VALIDATORS:  # what a resume's If-Range is checked against
        if name in upstream.headers:
            response.headers[name] = upstream.headers[name]
    length = upstream.headers.get("Content-Length")
    skip, remaining = 0, None
    if upstream.status == 206 and "Content-Range" in upstream.headers:
        response.headers["Content-Range"] = upstream.headers["Content-Range"]
    elif wanted and length is not None and upstream.status == 200:
        # The vendor ignored Range: serve the slice ourselves.
        span = parse_range(wanted, int(length))
        if span is not None:
            skip, end = span
            remaining = end - skip + 1
            response.set_status(206)
            response.headers["Content-Range"] = f"bytes {skip}-{end}/{length}"
            length = str(remaining)
    if length is not None:
        response.content_length = int(length)
    await start_stream(request, response)
    if request.method == "HEAD":
        return response
    try:
        async for chunk in upstream.content.iter_any():  # as received: no joining into larger chunks
            if skip:
                if len(chunk) <= skip:
                    skip -= len(chunk)
                    continue
                chunk, skip = chunk[skip:], 0
            if remaining is not None:
                chunk = chunk[:remaining]
                remaining -= len(chunk)
            await response.write(chunk)
            if remaining == 0:
                break
    except (aiohttp.ClientError, TimeoutError) as error:
        break_stream(request, f"the vendor's download broke off ({type(error).__name__})")
        return response
    await response.write_eof()
    return response


async def _complete_length(upstream: aiohttp.ClientResponse, source: ContentSource, http: aiohttp.ClientSession) -> int:
    """The video's size for a 416: from the vendor's own 416, else from a ``HEAD``."""
    match = _UNSATISFIED.match(upstream.headers.get("Content-Range", "").strip())
    if match is not None:
        return int(match.group(1))
    head = await open_upstream(http, source, method="HEAD")
    try:
        if head.status == 200 and head.content_length is not None:
            return head.content_length
    finally:
        head.release()
    raise UpstreamUnavailable("the vendor refused the range without saying the video's size")


# ---------------------------------------------------------------- kept files


async def kept_response(request: web.Request, path: str, mime_type: str) -> web.FileResponse:
    """Serve a kept file (``sendfile(2)``, ``Range``, ``If-Range``, ``HEAD``).

    ``Range`` and ``If-Range`` are decided here, not by aiohttp (which reads
    only a date in ``If-Range``): a range outside the file is refused with
    the JSON error every other route gives; a stale ``If-Range`` or a form we
    do not serve (several ranges) gets the whole file, as from the relay.
    """
    stat = os.stat(path)
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'  # what FileResponse sends
    last_modified = formatdate(math.ceil(stat.st_mtime), usegmt=True)  # ditto
    wanted = request.headers.get("Range")
    if not if_range_holds(request.headers.get("If-Range"), etag, last_modified):
        wanted = None
    span = parse_range(wanted, stat.st_size)
    headers = {name: value for name, value in request.headers.items() if name.lower() not in ("range", "if-range")}
    if span is not None:
        headers["Range"] = f"bytes={span[0]}-{span[1]}"
    response = _KeptFile(path, headers={"Content-Type": mime_type, "Accept-Ranges": "bytes"})
    await start_stream(request, response, prepare_as=request.clone(headers=headers))
    return response


class _KeptFile(web.FileResponse):
    """A FileResponse sent from the handler: aiohttp's second ``prepare`` of
    the returned response must not send the file again (as a StreamResponse's would not)."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return None
        return await super().prepare(request)
