"""HTTP ``Range`` handling shared by the content route and the emulators."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

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
            raise unsatisfiable(size)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or start > end:
        raise unsatisfiable(size)
    return start, end


def if_range_holds(if_range: str | None, etag: str | None, last_modified: str | None) -> bool:
    """Whether a ``Range`` may be served given the caller's ``If-Range`` (RFC 9110, 13.1.5).

    True without ``If-Range``. An entity tag holds only against the same
    strong ``ETag``; a date only against the same ``Last-Modified``. A
    representation without the validator asked about never matches, so the
    caller gets the whole of it rather than a piece of something else.
    """
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return etag is not None and not value.startswith("W/") and value == etag.strip()
    if last_modified is None:
        return False
    try:
        return parsedate_to_datetime(value) == parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):  # not a date: never a match
        return False


def unsatisfiable(size: int) -> web.HTTPRequestRangeNotSatisfiable:
    """The 416 for a body of ``size`` bytes, with ``Content-Range: bytes */size``."""
    return web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})


def bytes_response(
    request: web.Request, data: bytes, content_type: str, *, validators: Mapping[str, str] | None = None
) -> web.Response:
    """A response for ``data`` that honours a single ``Range``.

    :param validators: ``ETag`` and/or ``Last-Modified`` to send, and to check
        the request's ``If-Range`` against.
    """
    headers = {"Accept-Ranges": "bytes", **(validators or {})}
    wanted = request.headers.get("Range")
    if not if_range_holds(request.headers.get("If-Range"), headers.get("ETag"), headers.get("Last-Modified")):
        wanted = None
    span = parse_range(wanted, len(data))
    if span is None:
        return web.Response(body=data, content_type=content_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return web.Response(status=206, body=data[start : end + 1], content_type=content_type, headers=headers)
