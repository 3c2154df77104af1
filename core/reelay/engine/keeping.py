"""A finished video's bytes: reading them from the vendor, and keeping a copy.

Vendors' download links do not last (an hour for some; each plugin's README says
how long its vendor keeps them), so by default the gateway copies each
finished video into its results directory as the poller sees it complete
(``[store] keep_results``). Downloads are then served from that file, with
``sendfile(2)`` and ``Range``, however late the caller comes. A result that
was not kept (keeping is off, the file is too large, or the copy failed) is
relayed from the vendor as it arrives, never held whole in memory.
"""

from __future__ import annotations

import asyncio
import itertools
import mimetypes
import os
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urljoin, urlsplit

import aiohttp
import attrs

from ..errors import UpstreamUnavailable
from ..models import ContentSource

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
# What a download may hold in the gateway before reading from the vendor
# pauses: RSS stays flat at 8 concurrent 20 MB downloads (+5 MB against
# +10 to +29 MB with 1 MiB buffers and chunks) for the same throughput.
_RELAY_BUFFER = 256 * 1024
# A kept copy is written to disk from a thread in pieces about this large:
# few thread hops, little memory.
_WRITE_PIECE = 1024 * 1024
_COPY_NUMBERS = itertools.count()


async def open_upstream(
    http: aiohttp.ClientSession,
    source: ContentSource,
    *,
    method: str = "GET",
    range_header: str | None = None,
    if_range: str | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> aiohttp.ClientResponse:
    """Start reading ``source``; the caller releases the response.

    Redirects are followed by hand so the source's credentials are dropped
    when a redirect leaves the source's origin (signed download URLs).
    Raises :class:`UpstreamUnavailable` (never naming the URL: it may be signed).

    :param range_header: the caller's ``Range``, forwarded.
    :param if_range: the caller's ``If-Range``, forwarded with the range.
    """
    url = source.url
    conditions = {"Range": range_header} if range_header else {}
    if range_header and if_range:
        conditions["If-Range"] = if_range
    headers = {**source.headers, **conditions}
    origin = _origin(url)
    extra = {"timeout": timeout} if timeout is not None else {}
    try:
        for _ in range(_MAX_REDIRECTS + 1):
            upstream = await http.request(
                method, url, headers=headers, allow_redirects=False, read_bufsize=_RELAY_BUFFER, **extra
            )
            if upstream.status not in _REDIRECTS or "Location" not in upstream.headers:
                return upstream
            url = urljoin(url, upstream.headers["Location"])
            upstream.release()
            if _origin(url) != origin:
                headers = dict(conditions)
    except (TimeoutError, aiohttp.ClientError):
        raise UpstreamUnavailable("could not reach the vendor for the content") from None
    raise UpstreamUnavailable("the vendor's download redirected too many times")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


# ---------------------------------------------------------------- keeping


class NotKept(Exception):
    """Why a result was not copied; the message names no URL or credential."""


@attrs.frozen
class KeptCopy:
    path: Path
    size: int
    mime_type: str


def kept_path(results_dir: Path, task_id: str, mime_type: str | None) -> Path:
    """Where a task's result is kept: named after the task, with the type's usual suffix."""
    suffix = ".mp4" if mime_type in (None, "video/mp4") else mimetypes.guess_extension(mime_type) or ""
    return results_dir / f"{task_id}{suffix}"


async def keep_copy(
    http: aiohttp.ClientSession,
    source: ContentSource,
    results_dir: Path,
    task_id: str,
    *,
    max_bytes: int,
    timeout: float,
) -> KeptCopy:
    """Copy ``source`` into ``results_dir``, durably, or raise :class:`NotKept`.

    The bytes go to a ``.part`` file that is flushed to disk and renamed into
    place, so a crash never leaves a truncated file under the final name.
    """
    try:
        async with asyncio.timeout(timeout):
            upstream = await open_upstream(http, source)
            try:
                return await _write_copy(upstream, source, results_dir, task_id, max_bytes)
            finally:
                upstream.release()
    except TimeoutError:
        raise NotKept(f"the copy took longer than {timeout:g} seconds") from None
    except UpstreamUnavailable as error:
        raise NotKept(error.message) from None
    except aiohttp.ClientError as error:
        raise NotKept(f"the download broke off ({type(error).__name__})") from None


async def _write_copy(
    upstream: aiohttp.ClientResponse, source: ContentSource, results_dir: Path, task_id: str, max_bytes: int
) -> KeptCopy:
    if upstream.status != 200:
        raise NotKept(f"the vendor answered {upstream.status}")
    declared = upstream.content_length
    if declared is not None and declared > max_bytes:
        raise NotKept(f"the result is {declared} bytes, above the {max_bytes} bytes kept")
    mime_type = (source.mime_type or upstream.headers.get("Content-Type") or "video/mp4").split(";")[0].strip()
    path = kept_path(results_dir, task_id, mime_type)
    part = _PartFile(path)
    size, pending, written = 0, bytearray(), False
    try:
        async for chunk in upstream.content.iter_any():
            size += len(chunk)
            if size > max_bytes:
                raise NotKept(f"the result is larger than the {max_bytes} bytes kept")
            pending += chunk
            if len(pending) >= _WRITE_PIECE:
                await asyncio.to_thread(part.write, pending)
                pending = bytearray()
        if declared is not None and size != declared:
            raise NotKept(f"the download ended after {size} of {declared} bytes")
        await asyncio.to_thread(part.finish, pending)
        written = True
    except OSError as error:
        raise NotKept(f"the results directory could not take the file ({error.strerror or error})") from None
    finally:
        if not written:
            await asyncio.to_thread(part.discard)
    return KeptCopy(path, size, mime_type)


def unlink_quietly(path: str) -> None:
    """Remove a kept file that may already be gone (blocking: call it in a thread)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_kept(path: Path, data: bytes) -> None:
    """Write a whole result to ``path`` the way a copy is (blocking: call it in a thread)."""
    _PartFile(path).finish(data)


class _PartFile:
    """The ``.part`` file a result is written to before it is renamed to
    ``final``, opened by its first write: a result smaller than one piece
    costs a single trip to a thread."""

    def __init__(self, final: Path):
        self.final = final
        # Named for this copy alone: two gateway processes may copy the same task.
        self.path = final.with_name(f"{final.name}.{os.getpid()}-{next(_COPY_NUMBERS)}.part")
        self.file: BinaryIO | None = None

    def write(self, data: bytes | bytearray) -> None:
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open("wb")
        self.file.write(data)

    def finish(self, data: bytes | bytearray) -> None:
        self.write(data)
        assert self.file is not None
        with self.file:
            self.file.flush()
            os.fsync(self.file.fileno())
        os.replace(self.path, self.final)

    def discard(self) -> None:
        if self.file is None:
            return
        self.file.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- retention


#: A ``.part`` file untouched this long (seconds) is a copy a crash left behind:
#: a live copy writes to it as it goes, and gives up after minutes.
ABANDONED_PART_AGE = 3600.0


def sweep_results(results_dir: Path, older_than: float | None, now: float) -> int:
    """Remove the files in ``results_dir`` last written before ``older_than``
    (a Unix time; None: none), and copies a crash left half-written; returns
    how many. Runs in a thread: the directory may hold many files."""
    removed = 0
    abandoned = now - ABANDONED_PART_AGE
    try:
        entries = os.scandir(results_dir)
    except FileNotFoundError:
        return 0
    with entries:
        for entry in entries:
            cutoff = abandoned if entry.name.endswith(".part") else older_than
            try:
                if cutoff is not None and entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # another gateway process swept it first
                continue
    return removed
