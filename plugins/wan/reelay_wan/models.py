"""Wan's models on Alibaba Cloud Model Studio (DashScope), declared as data.

Text-to-video models take a literal ``parameters.size`` (``W*H``), shown to
callers as ``WxH``; image-to-video and first-and-last-frame models take a
``parameters.resolution`` tier and follow the image's shape, shown as the
tier's 16:9 size. The China (``cn``) catalogue spells the 2.1 models
``wanx2.1-*``, the international one ``wan2.1-*``.

Sources: Model Studio text-to-video, image-to-video (first frame) and
first-and-last-frame API references (model tables, size tiers, durations).
"""

from __future__ import annotations

import enum

from attrs import frozen

from reelay import Capabilities, ImageRole, MetadataPolicy, ModelSpec, PrecedenceRules

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
