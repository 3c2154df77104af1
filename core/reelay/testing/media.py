"""Test inputs and checks of outputs: sample images as data URIs, an MP4's duration and size, fast poller settings."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable

from ..config import PollerConfig
from ..emulation import sample_asset


def fast_poller() -> PollerConfig:
    """Poller settings for tests: polls every 50-200 ms."""
    return PollerConfig(min_interval=0.05, max_interval=0.2, lease_seconds=5.0, timeout_seconds=120.0)


def sample_image_data_uri() -> str:
    """A real 320x320 PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()


def png_data_uri(width: int, height: int, rgb: tuple[int, int, int] = (200, 80, 40)) -> str:
    """A real one-colour PNG of ``width`` x ``height`` as a ``data:`` URI (a second image, an odd shape)."""
    row = b"\x00" + bytes(rgb) * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def mp4_facts(data: bytes) -> tuple[float, int, int]:
    """Duration (from ``mvhd``) and the video track's width and height (from ``tkhd``) of an MP4.

    Enough to check that an emulator served a clip of the asked length and
    orientation (see :func:`reelay.emulation.orientation`).
    """

    def boxes(start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
        while start + 8 <= end:
            size, kind = struct.unpack(">I4s", data[start : start + 8])
            yield kind, start + 8, start + size
            start += size

    duration = width = height = None
    for kind, body, end in boxes(0, len(data)):
        if kind != b"moov":
            continue
        for inner, inner_body, inner_end in boxes(body, end):
            if inner == b"mvhd":
                timescale, length = struct.unpack(">II", data[inner_body + 12 : inner_body + 20])  # version 0
                duration = length / timescale
            elif inner == b"trak":
                for leaf, leaf_body, _ in boxes(inner_body, inner_end):
                    if leaf == b"tkhd":
                        w, h = struct.unpack(">II", data[leaf_body + 76 : leaf_body + 84])  # 16.16 fixed point
                        if w and h:
                            width, height = w >> 16, h >> 16
    if duration is None or width is None or height is None:
        raise ValueError("not an MP4 with a moov header and a video track")
    return duration, width, height
