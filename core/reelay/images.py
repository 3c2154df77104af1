"""What an image's bytes say it is: its type and its size in pixels.

One sniffer for every place an image enters the gateway (``data:`` URIs and
raw base64 in :mod:`reelay.normalize`, URL downloads in :mod:`reelay.fetch`,
multipart uploads): the label a caller or a server put on an image is never
trusted over its bytes. Width and height come from the file header (PNG,
JPEG, WebP, GIF), a few bytes read without decoding the image.
:func:`check_image` holds an image to a model's :class:`ImageRules`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import struct

from yarl import URL

from .errors import InvalidRequest
from .models import ImageInput, ImageRules

#: Leading bytes of the image types the gateway recognises.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_FTYP_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic"}

#: How much of an image the header readers look at; a JPEG's frame header
#: may sit behind large EXIF or ICC segments, so it gets the whole file.
HEAD_BYTES = 64


def sniff_image(data: bytes) -> str | None:
    """The image type ``data`` starts with, as a MIME type, or None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _FTYP_BRANDS:
        return _FTYP_BRANDS[data[8:12]]
    return None


def sniff_mime(payload_b64: str) -> str | None:
    """The image type of base64 text, from its first decoded bytes."""
    return sniff_image(decode_head(payload_b64, HEAD_BYTES))


def decode_head(payload_b64: str, size: int) -> bytes:
    """At least the first ``size`` bytes of base64 text (URL-safe too), or b"" if it is not base64."""
    chars = -(-size // 3) * 4
    head = payload_b64[:chars].replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return b""


def decoded_length(payload_b64: str) -> int:
    """How many bytes base64 text decodes to, without decoding it."""
    length = len(payload_b64.rstrip("="))
    return length * 3 // 4


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG, JPEG, WebP or GIF header, or None."""
    mime = sniff_image(data)
    try:
        if mime == "image/png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if mime == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if mime == "image/webp":
            return _webp_dimensions(data)
        if mime == "image/jpeg":
            return _jpeg_dimensions(data)
    except struct.error:  # a truncated header
        return None
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


# Start-of-frame markers (baseline, progressive, lossless...); not DHT, JPG or DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None


# ---------------------------------------------------------------- a model's rules


def check_image(image: ImageInput, rules: ImageRules, param: str, data: bytes | None = None) -> None:
    """Refuse an image the model's :class:`ImageRules` exclude, with a 400 naming the rule.

    Inline images are judged by their bytes (``data`` when the caller has
    them decoded already); URLs only by the URL rules, since their bytes are
    read later, if at all (see :func:`reelay.fetch.inline_images`).
    """
    if image.url is not None:
        if rules.https_domain and not _https_on_domain(image.url):
            raise InvalidRequest(
                f"{param}: image URLs must be https on a domain name (not an IP address)",
                param=param,
                code="image_url_not_supported",
            )
        return
    payload = image.base64 or ""
    if data is None:
        size = decoded_length(payload)
        sniffed = sniff_mime(payload)
    else:
        size = len(data)
        sniffed = sniff_image(data)
    mime = sniffed or image.mime_type
    if rules.types and (sniffed is None or sniffed not in rules.types):
        shown = sniffed or "not an image type the gateway recognises"
        raise InvalidRequest(
            f"{param}: the image is {shown}; this model takes {', '.join(rules.types)}",
            param=param,
            code="image_type_not_supported",
        )
    if rules.max_bytes is not None and size > rules.max_bytes:
        raise InvalidRequest(
            f"{param}: the image is {size} bytes; this model takes at most {rules.max_bytes}",
            param=param,
            code="image_too_large",
        )
    if not rules.needs_dimensions:
        return
    dimensions = image_dimensions(data if data is not None else _image_head(payload, mime))
    if dimensions is None:
        raise InvalidRequest(
            f"{param}: the image's width and height could not be read (send PNG, JPEG, WebP or GIF)",
            param=param,
            code="image_dimensions",
        )
    width, height = dimensions
    short, long_ = min(width, height), max(width, height)
    too_small = rules.min_side is not None and short < rules.min_side
    if too_small or (rules.max_side is not None and long_ > rules.max_side):
        bounds = f"{rules.min_side or 1}..{rules.max_side or 'any'}"
        raise InvalidRequest(
            f"{param}: the image is {width}x{height}; this model takes sides of {bounds} pixels",
            param=param,
            code="image_dimensions",
        )
    aspect = width / height if height else 0.0
    if (rules.min_aspect is not None and aspect < rules.min_aspect * 0.999) or (
        rules.max_aspect is not None and aspect > rules.max_aspect * 1.001
    ):
        raise InvalidRequest(
            f"{param}: the image's aspect ratio {width}:{height} is outside"
            f" {rules.min_aspect or 0:g}..{rules.max_aspect or 'any'} (width/height)",
            param=param,
            code="image_aspect_ratio",
        )


def _image_head(payload_b64: str, mime: str | None) -> bytes:
    # PNG, GIF and WebP state their size in the first 30 bytes; a JPEG's
    # frame header follows its metadata segments, so it is decoded whole.
    if mime == "image/jpeg":
        return decode_head(payload_b64, len(payload_b64))
    return decode_head(payload_b64, 64)


def _https_on_domain(url: str) -> bool:
    try:
        parsed = URL(url)
    except ValueError:
        return False
    host = (parsed.raw_host or "").strip("[]")
    if parsed.scheme != "https" or not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False
