"""Unified request -> validated, vendor-neutral :class:`GenerationRequest`.

Applies a model's declared :class:`PrecedenceRules`, its capabilities and
allowed values, and the normalization policy (snap or strict). Nothing here
knows a vendor: everything vendor-specific arrives as data on the model spec.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import InvalidRequest, ValueNotAllowed
from .images import check_image, sniff_mime
from .models import (
    Adjustment,
    GenerationRequest,
    ImageInput,
    ImageRole,
    ImageRules,
    InputKind,
    MetadataPolicy,
    ModelSpec,
    NormalizationPolicy,
    SurplusImages,
    UnifiedRequest,
)

__all__ = ["check_image", "normalize", "parse_image", "parse_seconds", "parse_size", "sniff_mime"]

_PIXELS = re.compile(r"^\s*(\d{1,5})\s*[xX*×]\s*(\d{1,5})\s*$")
_RATIO = re.compile(r"^\s*(\d{1,9})\s*:\s*(\d{1,9})\s*$")
_DATA_URI = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+=[\w.-]+)*);base64,", re.IGNORECASE)
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def normalize(
    unified: UnifiedRequest,
    model: ModelSpec,
    policy: NormalizationPolicy = NormalizationPolicy.SNAP,
    public_id: str = "",
) -> GenerationRequest:
    """Validate ``unified`` against ``model`` and resolve it into effective values.

    :raises InvalidRequest: with ``param`` naming the field at fault.
    """
    rules = model.precedence
    adjustments: list[Adjustment] = []
    metadata = dict(unified.metadata)
    _check_bounds(unified, model)

    images = _collect_images(unified, rules.image_sources, model.image_rules)
    for source in rules.reference_image_sources:
        images_from_metadata = _metadata_images(metadata, source, model.image_rules)
        metadata.pop(source.removeprefix("metadata."), None)
        images.extend((ImageRole.REFERENCE, image) for image in images_from_metadata)
    first_frame, last_frame, references = _assign_roles(images, model, adjustments)
    image_to_video = first_frame is not None or last_frame is not None or bool(references)
    kind = InputKind.FIRST_LAST if last_frame is not None else InputKind.IMAGE
    if not image_to_video:
        kind = InputKind.TEXT
    allowed = model.rules_for(kind)

    prompt = unified.prompt if unified.prompt and unified.prompt.strip() else None
    if not image_to_video and not model.capabilities.text_to_video:
        raise InvalidRequest(
            f"{model.name} is image-to-video only: send an image in image, images or input_reference",
            param="image",
            code="image_required",
        )
    if image_to_video and not model.capabilities.image_to_video:
        raise InvalidRequest(f"{model.name} is text-to-video only and takes no input image", param="image")
    if prompt is None and allowed.prompt_required:
        message = (
            "prompt is required for text-to-video"
            if kind is InputKind.TEXT
            else f"{model.name} needs a prompt, also when an image is given"
        )
        raise InvalidRequest(message, param="prompt", code="missing_prompt")

    size = None
    if image_to_video and not rules.size_on_image_to_video:
        if unified.size:
            adjustments.append(Adjustment("size", unified.size, None, "image-to-video follows the input image"))
    else:
        size = _resolve_size(unified.size, model, allowed.sizes or (), policy, adjustments)

    duration = _resolve_duration(
        unified, metadata, model, allowed.durations or (), size, bool(references), policy, adjustments
    )
    for source in rules.duration_sources:
        if source.startswith("metadata."):
            metadata.pop(source.removeprefix("metadata."), None)

    extra, dropped = _filter_metadata(metadata, model)
    adjustments.extend(_dropped_metadata(metadata, dropped, model))
    return GenerationRequest(
        model=model.name,
        prompt=prompt,
        duration=duration,
        size=size,
        first_frame=first_frame,
        last_frame=last_frame,
        reference_images=tuple(references),
        extra=extra,
        adjustments=tuple(adjustments),
        dropped_metadata=tuple(dropped),
        public_id=public_id,
        requested_model=unified.model,
    )


# ---------------------------------------------------------------- bounds


def _check_bounds(unified: UnifiedRequest, model: ModelSpec) -> None:
    """Refuse a prompt or an image list past the model's bounds, before reading any image."""
    if model.max_prompt_chars is not None and unified.prompt and len(unified.prompt) > model.max_prompt_chars:
        raise InvalidRequest(
            f"prompt is {len(unified.prompt)} characters; {model.name} takes at most {model.max_prompt_chars}",
            param="prompt",
            code="prompt_too_long",
        )
    if model.max_images is None:
        return
    sent: set[str] = set()  # the same image in two fields is one image
    count = len(unified.uploads)
    values: list[Any] = [unified.image, *unified.images, *unified.input_reference]
    for source in model.precedence.reference_image_sources:
        value = unified.metadata.get(source.removeprefix("metadata."))
        values.extend(value if isinstance(value, list) else [value])
    for value in values:
        if value is None or value == "":
            continue
        if isinstance(value, str):
            if value in sent:
                continue
            sent.add(value)
        count += 1
        if count > model.max_images:
            raise InvalidRequest(
                f"{model.name} takes at most {model.max_images} input image{'s' if model.max_images != 1 else ''}",
                param="images",
                code="too_many_images",
            )


# ---------------------------------------------------------------- durations


def parse_seconds(value: Any, param: str) -> float:
    """A duration from an integer, a float or a numeric string."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{param} must be a number of seconds", param=param)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().removesuffix("s"))
        except ValueError:
            raise InvalidRequest(f"{param} must be a number of seconds, got {value!r}", param=param) from None
    else:
        raise InvalidRequest(f"{param} must be a number of seconds", param=param)
    if not math.isfinite(number) or number <= 0:
        raise InvalidRequest(f"{param} must be a positive number of seconds, got {value!r}", param=param)
    return number


def nearest_duration(value: float, allowed: tuple[int, ...]) -> int:
    """The allowed duration closest to ``value``; ties go to the longer one."""
    return min(allowed, key=lambda d: (abs(d - value), -d))


def allowed_durations(
    model: ModelSpec, size: str | None, with_reference_images: bool, durations: tuple[int, ...] | None = None
) -> tuple[int, ...]:
    """The durations allowed at ``size``: a matching :class:`DurationRule`'s, else ``durations``
    (the kind of input's, see :meth:`ModelSpec.rules_for`), else the model's."""
    for rule in model.duration_rules:
        if (size is not None and size in rule.sizes) or (rule.with_reference_images and with_reference_images):
            return rule.allowed
    return model.durations if durations is None else durations


def _resolve_duration(
    unified: UnifiedRequest,
    metadata: Mapping[str, Any],
    model: ModelSpec,
    durations: tuple[int, ...],
    size: str | None,
    with_reference_images: bool,
    policy: NormalizationPolicy,
    adjustments: list[Adjustment],
) -> int | None:
    allowed = allowed_durations(model, size, with_reference_images, durations)
    requested, source = None, None
    for name in model.precedence.duration_sources:
        value = metadata.get(name.removeprefix("metadata.")) if name.startswith("metadata.") else getattr(unified, name)
        if value is not None and value != "":
            requested, source = value, name
            break
    if requested is None:
        default = model.default_duration if model.default_duration is not None else (allowed[0] if allowed else None)
        if default is not None and allowed and default not in allowed:
            default = nearest_duration(default, allowed)
        return default
    assert source is not None
    seconds = parse_seconds(requested, source)
    if not allowed:
        return round(seconds)
    if seconds in allowed:
        return int(seconds)
    if policy is NormalizationPolicy.STRICT:
        raise ValueNotAllowed(source, requested, allowed, model.name)
    effective = nearest_duration(seconds, allowed)
    adjustments.append(Adjustment(source, requested, effective, f"nearest duration {model.name} offers"))
    return effective


# ---------------------------------------------------------------- sizes


def parse_size(text: str) -> tuple[int, int, bool]:
    """``(width, height, is_pixels)`` from ``1280x720`` or a ratio of positive integers (``16:9``, ``1280:720``)."""
    match = _PIXELS.match(text)
    if match:
        width, height = int(match.group(1)), int(match.group(2))
        pixels = True
    else:
        match = _RATIO.match(text)
        if not match:
            raise InvalidRequest(
                f"size {text!r} is not WIDTHxHEIGHT (like 1280x720) or a ratio (like 16:9)", param="size"
            )
        width, height = int(match.group(1)), int(match.group(2))
        pixels = False
    if width == 0 or height == 0:
        raise InvalidRequest(f"size {text!r} has a zero side", param="size")
    return width, height, pixels


def _resolve_size(
    requested: str | None,
    model: ModelSpec,
    sizes: tuple[str, ...],
    policy: NormalizationPolicy,
    adjustments: list[Adjustment],
) -> str | None:
    if requested is None or requested == "":
        default = model.default_size
        if default is None or not sizes or default in sizes:
            return default
        return _resolve_size(default, model, sizes, NormalizationPolicy.SNAP, [])  # this kind's closest
    width, height, pixels = parse_size(requested)
    if not sizes:
        return requested
    canonical = f"{width}x{height}" if pixels else f"{width}:{height}"
    if canonical in sizes:
        return canonical
    aspect = width / height
    candidates = [(option, *parse_size(option)) for option in sizes]
    # The same numbers in the other form (1280x720 for a model's 1280:720) name the same thing.
    for option, cand_w, cand_h, _ in candidates:
        if (cand_w, cand_h) == (width, height):
            return option
    # A ratio and a pixel size of the same shape name the same thing: 16:9 is
    # the model's 16:9 size, and 1280x720 or 1280:720 is 16:9 on a ratio-only model.
    for option, cand_w, cand_h, cand_pixels in candidates:
        if (not pixels or not cand_pixels) and _same_aspect(aspect, cand_w / cand_h):
            return option
    if policy is NormalizationPolicy.STRICT:
        raise ValueNotAllowed("size", requested, sizes, model.name)

    def distance(candidate: tuple[str, int, int, bool]) -> tuple[float, float]:
        _, cand_w, cand_h, cand_pixels = candidate
        aspect_gap = abs(math.log(aspect / (cand_w / cand_h)))
        area_gap = abs(math.log((width * height) / (cand_w * cand_h))) if pixels and cand_pixels else 0.0
        return round(aspect_gap, 6), area_gap

    effective = min(candidates, key=distance)[0]
    adjustments.append(Adjustment("size", requested, effective, f"closest size {model.name} offers"))
    return effective


def _same_aspect(a: float, b: float) -> bool:
    return abs(a - b) / b < 0.01


# ---------------------------------------------------------------- images


def parse_image(text: str, param: str, rules: ImageRules | None = None) -> ImageInput:
    """An image given as an http(s) URL, a ``data:`` URI or raw base64, checked by ``rules``.

    The MIME type is what the bytes show, whatever the ``data:`` label says;
    the label is kept only for bytes the sniffer does not recognise.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{param} must be an image URL, a data URI or base64 text", param=param)
    stripped = text.strip()
    lowered = stripped[:8].lower()
    if lowered.startswith(("http://", "https://")):
        image = ImageInput(url=stripped)
    elif lowered.startswith("data:"):
        match = _DATA_URI.match(stripped)
        if match is None:
            raise InvalidRequest(f"{param} is a data URI but not base64-encoded", param=param)
        payload = stripped[match.end() :]
        _check_base64(payload, param)
        label = (match.group(1) or "").lower() or None
        image = ImageInput(base64=payload, mime_type=sniff_mime(payload) or label)
    else:
        _check_base64(stripped, param)
        image = ImageInput(base64=stripped, mime_type=sniff_mime(stripped))
    if rules is not None:
        check_image(image, rules, param)
    return image


def _check_base64(payload: str, param: str) -> None:
    # Checking the alphabet and a decode of the head catches non-image text
    # without decoding megabytes on the event loop.
    if len(payload) < 8 or not _BASE64_CHARS.match(payload[:4096] if len(payload) > 4096 else payload):
        raise InvalidRequest(f"{param} is not an image URL, a data URI or base64 text", param=param)
    try:
        base64.b64decode(payload[:64] + "=" * (-len(payload[:64]) % 4), validate=False)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{param} is not valid base64", param=param) from None


def _source_values(unified: UnifiedRequest, source: str) -> Iterator[tuple[str, str | ImageInput]]:
    if source == "image":
        if unified.image:
            yield "image", unified.image
    elif source == "images":
        for index, value in enumerate(unified.images):
            yield f"images[{index}]", value
    elif source == "input_reference":
        for upload in unified.uploads:
            yield "input_reference", upload
        for index, value in enumerate(unified.input_reference):
            yield f"input_reference[{index}]" if len(unified.input_reference) > 1 else "input_reference", value
    else:
        raise ValueError(f"unknown image source {source!r} in precedence rules")


def _collect_images(
    unified: UnifiedRequest, sources: tuple[str, ...], rules: ImageRules
) -> list[tuple[ImageRole | None, ImageInput]]:
    seen: set[str] = set()
    images: list[tuple[ImageRole | None, ImageInput]] = []
    for source in sources:
        for param, value in _source_values(unified, source):
            if isinstance(value, ImageInput):
                check_image(value, rules, param)
                images.append((None, value))
                continue
            if value in seen:  # the same image sent in two fields is one image
                continue
            seen.add(value)
            images.append((None, parse_image(value, param, rules)))
    return images


def _metadata_images(metadata: Mapping[str, Any], source: str, rules: ImageRules) -> list[ImageInput]:
    key = source.removeprefix("metadata.")
    value = metadata.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    images = []
    for index, item in enumerate(items):
        param = f"metadata.{key}[{index}]"
        if isinstance(item, Mapping):
            item = item.get("image") or item.get("url") or item.get("image_url")
        if not isinstance(item, str):
            raise InvalidRequest(f"{param} must be an image URL or base64 text", param=param)
        images.append(parse_image(item, param, rules))
    return images


def _capacity(model: ModelSpec) -> int:
    caps = model.capabilities
    return int(caps.image_to_video) + int(caps.end_frame) + caps.max_reference_images


def _assign_roles(
    images: list[tuple[ImageRole | None, ImageInput]], model: ModelSpec, adjustments: list[Adjustment]
) -> tuple[ImageInput | None, ImageInput | None, list[ImageInput]]:
    caps = model.capabilities
    if model.precedence.surplus_images is SurplusImages.DROP and len(images) > _capacity(model):
        kept = _capacity(model)
        adjustments.append(
            Adjustment("images", len(images), kept, f"{model.name} takes {kept} image{'s' if kept != 1 else ''}")
        )
        images = images[:kept]
    first = last = None
    references: list[ImageInput] = []
    positional = [image for role, image in images if role is None]
    for index, image in enumerate(positional):
        role = model.precedence.image_roles[index] if index < len(model.precedence.image_roles) else ImageRole.REFERENCE
        if role is ImageRole.LAST_FRAME and not caps.end_frame:
            role = ImageRole.REFERENCE
        if role is ImageRole.FIRST_FRAME:
            first = image
        elif role is ImageRole.LAST_FRAME:
            last = image
        else:
            references.append(image)
    references.extend(image for role, image in images if role is ImageRole.REFERENCE)
    if len(references) > caps.max_reference_images:
        frames = int(first is not None) + int(last is not None)
        most = frames + caps.max_reference_images
        raise InvalidRequest(
            f"{model.name} takes at most {most} input image{'s' if most != 1 else ''}"
            f" ({_image_capacity(model)}); got {frames + len(references)}",
            param="images",
            code="too_many_images",
        )
    return first, last, references


def _image_capacity(model: ModelSpec) -> str:
    caps = model.capabilities
    parts = []
    if caps.image_to_video:
        parts.append("a first frame")
    if caps.end_frame:
        parts.append("a last frame")
    if caps.max_reference_images:
        most = caps.max_reference_images
        parts.append(f"{most} reference image{'s' if most != 1 else ''}")
    return ", ".join(parts) or "no images"


# ---------------------------------------------------------------- metadata


def _filter_metadata(metadata: dict[str, Any], model: ModelSpec) -> tuple[dict[str, Any], list[str]]:
    rules = model.precedence
    dropped = [key for key in metadata if key in rules.protected_fields]
    if rules.metadata is MetadataPolicy.NONE:
        return {}, sorted(metadata)
    kept = {}
    for key, value in metadata.items():
        if key in rules.protected_fields:
            continue
        if rules.metadata is MetadataPolicy.KNOWN and key not in model.metadata_fields:
            dropped.append(key)
            continue
        kept[key] = value
    return kept, dropped


def _dropped_metadata(metadata: Mapping[str, Any], dropped: list[str], model: ModelSpec) -> Iterator[Adjustment]:
    """One adjustment per dropped metadata key, saying why, so the caller sees it on the task."""
    rules = model.precedence
    for key in dropped:
        if key in rules.protected_fields:
            reason = f"{key} is chosen by the gateway and never taken from metadata"
        elif rules.metadata is MetadataPolicy.NONE:
            reason = f"{model.name} takes no metadata"
        else:
            accepted = ", ".join(model.metadata_fields) or "none"
            reason = f"{model.name} does not take metadata.{key} (it takes: {accepted})"
        value = metadata[key]
        shown = (
            value if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) <= 200) else None
        )
        yield Adjustment(f"metadata.{key}", shown, None, reason)
