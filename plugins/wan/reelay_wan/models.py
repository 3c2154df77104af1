"""Wan's models on Alibaba Cloud Model Studio (DashScope), declared as data.

Text-to-video models take a literal ``parameters.size`` (``W*H``), shown to
callers as ``WxH``; image-to-video and first-and-last-frame models take a
``parameters.resolution`` tier and follow the image's shape, shown as the
tier's 16:9 size. The China (``cn``) catalogue spells the 2.1 models
``wanx2.1-*``, the international one ``wan2.1-*``.

The prompt limit (Wan truncates silently; the gateway refuses), the image
count and the image rules are ``ModelSpec`` data the core enforces.

Sources: Model Studio text-to-video, image-to-video (first frame) and
first-and-last-frame API references (model tables, size tiers, durations,
prompt and image limits).
"""

from __future__ import annotations

import enum

from attrs import frozen

from reelay import Capabilities, ImageRole, ImageRules, MetadataPolicy, ModelSpec, PrecedenceRules

VENDOR = "wan"


class Region(enum.StrEnum):
    INTL = "intl"  # Singapore
    CN = "cn"  # Beijing

    @property
    def origin(self) -> str:
        return {"intl": "https://dashscope-intl.aliyuncs.com", "cn": "https://dashscope.aliyuncs.com"}[self.value]


class Kind(enum.StrEnum):
    """Which request family a model belongs to; ``kf2v`` lives on its own path."""

    T2V = "t2v"
    I2V = "i2v"
    KF2V = "kf2v"

    @property
    def path(self) -> str:
        family = "image2video" if self is Kind.KF2V else "video-generation"
        return f"/api/v1/services/aigc/{family}/video-synthesis"


#: Text-to-video sizes by tier (``W*H`` upstream).
T2V_TIERS = {
    "480P": ("832x480", "480x832", "624x624"),
    "720P": ("1280x720", "720x1280", "960x960", "1088x832", "832x1088"),
    "1080P": ("1920x1080", "1080x1920", "1440x1440", "1632x1248", "1248x1632"),
}
#: Image-to-video tiers, shown as their 16:9 size.
I2V_TIERS = {"832x480": "480P", "1280x720": "720P", "1920x1080": "1080P"}

METADATA_FIELDS = ("negative_prompt", "prompt_extend", "watermark", "seed", "audio_url", "shot_type")

#: Wan truncates longer prompts silently; the gateway refuses them instead (``prompt_too_long``).
MAX_PROMPT = {"2.1": 800, "2.2": 800, "2.5": 1500, "2.6": 1500}
#: Input images: JPEG, PNG, BMP or WebP, at most 10 MB (2.1, 2.2) or 20 MB (2.5, 2.6). Sides
#: 240..8000 px are left to DashScope: the core reads no width or height from a BMP header.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/bmp", "image/webp")
MAX_IMAGE_MB = {"2.1": 10, "2.2": 10, "2.5": 20, "2.6": 20}


def _version(name: str) -> str:
    """``2.6`` for ``wan2.6-t2v``, ``2.1`` for ``wanx2.1-i2v-plus``."""
    return name.removeprefix("wanx").removeprefix("wan")[:3]


@frozen
class WanModel:
    spec: ModelSpec
    kind: Kind
    regions: tuple[Region, ...]
    audio: bool = False  # takes input.audio_url (2.5, 2.6)
    shot_type: bool = False  # takes parameters.shot_type (2.6)

    @property
    def name(self) -> str:
        return self.spec.name


def _sizes(kind: Kind, tiers: tuple[str, ...]) -> tuple[str, ...]:
    if kind is Kind.T2V:
        return tuple(size for tier in tiers for size in T2V_TIERS[tier])
    return tuple(size for size, tier in I2V_TIERS.items() if tier in tiers)


def _model(name, kind, tiers, default_tier, durations, regions=(Region.CN, Region.INTL), typical=120, **facts):
    sizes = _sizes(kind, tiers)
    default = _sizes(kind, (default_tier,))[0]
    version = _version(name)
    spec = ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(
            text_to_video=kind is Kind.T2V, image_to_video=kind is not Kind.T2V, end_frame=kind is Kind.KF2V
        ),
        durations=durations,
        default_duration=5,
        sizes=sizes,
        default_size=default,
        typical_seconds=typical,
        precedence=PrecedenceRules(
            duration_sources=("duration", "seconds"),
            image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
            metadata=MetadataPolicy.KNOWN,
            protected_fields=("model", "input", "parameters"),
        ),
        metadata_fields=METADATA_FIELDS,
        description=f"Wan {kind.value}: {', '.join(tiers)}",
        max_prompt_chars=MAX_PROMPT[version],
        max_images={Kind.T2V: None, Kind.I2V: 1, Kind.KF2V: 2}[kind],
        image_rules=ImageRules(types=IMAGE_TYPES, max_bytes=MAX_IMAGE_MB[version] * 1024 * 1024),
    )
    return WanModel(spec=spec, kind=kind, regions=regions, **facts)


_ALL_TIERS = ("480P", "720P", "1080P")
_V26 = tuple(range(2, 16))

MODELS: tuple[WanModel, ...] = (
    _model("wan2.6-t2v", Kind.T2V, ("720P", "1080P"), "1080P", _V26, audio=True, shot_type=True),
    _model("wan2.5-t2v-preview", Kind.T2V, _ALL_TIERS, "1080P", (5, 10), audio=True),
    _model("wan2.2-t2v-plus", Kind.T2V, ("480P", "1080P"), "1080P", (5,)),
    _model("wanx2.1-t2v-turbo", Kind.T2V, ("480P", "720P"), "720P", (5,), (Region.CN,), 60),
    _model("wanx2.1-t2v-plus", Kind.T2V, ("720P",), "720P", (5,), (Region.CN,)),
    _model("wan2.1-t2v-turbo", Kind.T2V, ("480P", "720P"), "720P", (5,), (Region.INTL,), 60),
    _model("wan2.1-t2v-plus", Kind.T2V, ("720P",), "720P", (5,), (Region.INTL,)),
    _model("wan2.6-i2v", Kind.I2V, ("720P", "1080P"), "1080P", _V26, audio=True, shot_type=True),
    _model("wan2.5-i2v-preview", Kind.I2V, _ALL_TIERS, "1080P", (5, 10), audio=True),
    _model("wan2.2-i2v-plus", Kind.I2V, ("480P", "1080P"), "1080P", (5,)),
    _model("wan2.2-i2v-flash", Kind.I2V, _ALL_TIERS, "720P", (5,), (Region.CN,), 60),
    _model("wanx2.1-i2v-turbo", Kind.I2V, ("480P", "720P"), "720P", (3, 4, 5), (Region.CN,), 60),
    _model("wanx2.1-i2v-plus", Kind.I2V, ("720P",), "720P", (5,), (Region.CN,)),
    _model("wan2.1-i2v-turbo", Kind.I2V, ("480P", "720P"), "720P", (3, 4, 5), (Region.INTL,), 60),
    _model("wan2.1-i2v-plus", Kind.I2V, ("720P",), "720P", (5,), (Region.INTL,)),
    _model("wan2.2-kf2v-flash", Kind.KF2V, _ALL_TIERS, "720P", (5,), (Region.CN,), 60),
    _model("wanx2.1-kf2v-plus", Kind.KF2V, ("720P",), "720P", (5,), (Region.CN,)),
    _model("wan2.1-kf2v-plus", Kind.KF2V, ("720P",), "720P", (5,), (Region.INTL,)),
)

BY_NAME: dict[str, WanModel] = {model.name: model for model in MODELS}


def wan_model(spec: ModelSpec) -> WanModel:
    """The Wan facts for ``spec``; a spec built elsewhere is taken as a 2.6-style text-to-video model."""
    return BY_NAME.get(spec.name) or WanModel(spec=spec, kind=Kind.T2V, regions=tuple(Region))
