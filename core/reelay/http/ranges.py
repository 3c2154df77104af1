"""HTTP ``Range`` handling shared by the content route and the emulators."""

from __future__ import annotations

import re

from aiohttp import web

_SINGLE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Read a single-range ``Range`` header against a body of ``size`` bytes.

    :return: ``(start, end)`` inclusive, or None to send the whole body (no
        header, or a form we do not serve such as multiple ranges).
    :raises web.HTTPRequestRangeNotSatisfiable: when the range lies outside.
    """
    if not header:
        return None
    match = _SINGLE_RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or start > end:
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> web.HTTPRequestRangeNotSatisfiable:
    return web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})


def bytes_response(request: web.Request, data: bytes, content_type: str) -> web.Response:
    """A response for ``data`` that honours a single ``Range``."""
    span = parse_range(request.headers.get("Range"), len(data))
    headers = {"Accept-Ranges": "bytes"}
    if span is None:
        return web.Response(body=data, content_type=content_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return web.Response(status=206, body=data[start : end + 1], content_type=content_type, headers=headers)
