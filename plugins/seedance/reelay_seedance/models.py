"""Seedance's models and regions, declared as data.

Volcengine Ark (China, region ``cn``) and BytePlus ModelArk (international,
region ``intl``) sell the same models under different ids, with separate
accounts and keys; a channel serves the catalogue of its region. Each entry is
a :class:`reelay.ModelSpec` plus the Seedance facts the core has no field for
(resolutions, whether ``adaptive`` ratio is taken, reference-image mode),
which :mod:`reelay_seedance.wire` checks before anything is sent. The image
count and image rules are ``ModelSpec`` data the core enforces: types and
size only, since the core reads no width or height from BMP, TIFF or HEIC
headers, which Seedance takes (sides 300..6000 px and width/height 0.4..2.5
are left to Ark).

Sources: Volcengine Ark docs 82379/1520757 (create task: models, roles,
resolution, ratio, duration), BytePlus ModelArk create-video-generation-task
and video-generation tutorial (BytePlus ids, catalogue, defaults).
"""

from __future__ import annotations

import enum

import attrs
from attrs import frozen

from reelay import Capabilities, ImageRole, ImageRules, MetadataPolicy, ModelSpec, PrecedenceRules

VENDOR = "seedance"


class Region(enum.StrEnum):
    """Which Ark a channel talks to: Volcengine (China) or BytePlus (international)."""

    CN = "cn"
    INTL = "intl"

    @property
    def origin(self) -> str:
        return _ORIGINS[self]


_ORIGINS = {
    Region.CN: "https://ark.cn-beijing.volces.com",
    Region.INTL: "https://ark.ap-southeast.bytepluses.com",
}

#: Ratios every model takes; ``adaptive`` (the model or the image decides) is sent when no size is asked for.
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")

#: Seedance's documented body fields a caller may set through ``metadata``.
METADATA_FIELDS = (
    "resolution",
    "seed",
    "camera_fixed",
    "watermark",
    "generate_audio",
    "return_last_frame",
    "service_tier",
    "execution_expires_after",
    "callback_url",
)

#: Reference images (a mode that excludes first/last frames) come from ``metadata.reference_images``.
REFERENCE_SOURCE = "metadata.reference_images"

#: Image formats every model takes; HEIC/HEIF from 1.5 on. Each under 30 MB.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/gif")
HEIC_TYPES = ("image/heic", "image/heif")
MAX_IMAGE_BYTES = 30 * 1024 * 1024 - 1


@frozen
class SeedanceModel:
    """A Seedance model: the core's spec plus the Seedance-only facts.

    :param region: the Ark whose catalogue lists this id.
    :param resolutions: the ``resolution`` values it takes; ``default_resolution`` when none is asked.
    :param adaptive_only_i2v: image-to-video must send ratio ``adaptive`` (2.5).
    :param audio: whether it takes ``generate_audio``.
    :param seed_and_camera: whether it takes ``seed`` and ``camera_fixed`` (1.x).
    :param flex: whether it takes ``service_tier: flex`` (1.x).
    :param adaptive_t2v: whether text-to-video takes ratio ``adaptive`` (not 1.0).
    """

    spec: ModelSpec
    region: Region
    resolutions: tuple[str, ...]
    default_resolution: str
    adaptive_only_i2v: bool = False
    audio: bool = False
    seed_and_camera: bool = True
    flex: bool = True
    adaptive_t2v: bool = True

    @property
    def name(self) -> str:
        return self.spec.name


@frozen
class _Family:
    """One model generation, whatever region sells it."""

    text_to_video: bool
    image_to_video: bool
    end_frame: bool
    references: int
    durations: tuple[int, ...]
    resolutions: tuple[str, ...]
    default_resolution: str
    typical_seconds: float
    description: str
    default_ratio: str | None = None
    adaptive_only_i2v: bool = False
    audio: bool = False
    seed_and_camera: bool = True
    flex: bool = True
    adaptive_t2v: bool = True
    heic: bool = True


_SD = ("480p", "720p", "1080p")
_V1 = tuple(range(2, 13))
_V15 = tuple(range(4, 13))
_V2 = tuple(range(4, 16))

_FAMILIES = {
    "1.0-pro": _Family(
        True,
        True,
        True,
        0,
        _V1,
        _SD,
        "1080p",
        90,
        "Seedance 1.0 Pro: text, first frame, first+last",
        adaptive_t2v=False,
        heic=False,
    ),
    "1.0-pro-fast": _Family(
        True,
        True,
        False,
        0,
        _V1,
        _SD,
        "1080p",
        45,
        "Seedance 1.0 Pro Fast: text, first frame",
        adaptive_t2v=False,
        heic=False,
    ),
    "1.0-lite-t2v": _Family(
        True,
        False,
        False,
        0,
        _V1,
        _SD,
        "720p",
        60,
        "Seedance 1.0 Lite: text to video",
        default_ratio="16:9",
        adaptive_t2v=False,
        heic=False,
    ),
    "1.0-lite-i2v": _Family(
        False,
        True,
        True,
        4,
        _V1,
        _SD,
        "720p",
        60,
        "Seedance 1.0 Lite: first frame, first+last or 1-4 references",
        heic=False,
    ),
    "1.5-pro": _Family(
        True, True, True, 0, _V15, _SD, "720p", 90, "Seedance 1.5 Pro: text and images, with audio", audio=True
    ),
    "2.0": _Family(
        True,
        True,
        True,
        9,
        _V2,
        (*_SD, "4k"),
        "720p",
        120,
        "Seedance 2.0: text, first+last frame or up to 9 reference images, with audio",
        audio=True,
        seed_and_camera=False,
        flex=False,
    ),
    "2.0-fast": _Family(
        True,
        True,
        True,
        9,
        _V2,
        ("480p", "720p"),
        "720p",
        60,
        "Seedance 2.0 Fast",
        audio=True,
        seed_and_camera=False,
        flex=False,
    ),
    "2.5": _Family(
        True,
        True,
        True,
        30,
        tuple(range(4, 31)),
        ("480p", "720p"),
        "720p",
        150,
        "Seedance 2.5: up to 30 s, up to 30 reference images; image to video follows the image",
        adaptive_only_i2v=True,
        audio=True,
        seed_and_camera=False,
        flex=False,
    ),
}

#: (Volcengine id, BytePlus id or None, family), the first is the plugin's showcase model.
_FAMILIES["2.0-mini"] = attrs.evolve(_FAMILIES["2.0-fast"], typical_seconds=45, description="Seedance 2.0 Mini")

_CATALOGUE = (
    ("doubao-seedance-1-0-pro-250528", "seedance-1-0-pro-250528", "1.0-pro"),
    ("doubao-seedance-1-0-pro-fast-251015", "seedance-1-0-pro-fast-251015", "1.0-pro-fast"),
    ("doubao-seedance-1-0-lite-t2v-250428", None, "1.0-lite-t2v"),
    ("doubao-seedance-1-0-lite-i2v-250428", None, "1.0-lite-i2v"),
    ("doubao-seedance-1-5-pro-251215", "seedance-1-5-pro-251215", "1.5-pro"),
    ("doubao-seedance-2-0-260128", "dreamina-seedance-2-0-260128", "2.0"),
    ("doubao-seedance-2-0-fast-260128", "dreamina-seedance-2-0-fast-260128", "2.0-fast"),
    ("doubao-seedance-2-0-mini-260615", "dreamina-seedance-2-0-mini-260615", "2.0-mini"),
    ("doubao-seedance-2-5-260628", "dreamina-seedance-2-5-260628", "2.5"),
)


def _precedence(family: _Family) -> PrecedenceRules:
    return PrecedenceRules(
        duration_sources=("duration", "seconds"),
        image_sources=("image", "input_reference", "images"),
        image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
        reference_image_sources=(REFERENCE_SOURCE,) if family.references else (),
        size_on_image_to_video=not family.adaptive_only_i2v,
        metadata=MetadataPolicy.KNOWN,
        protected_fields=("model", "content"),
    )


def _model(name: str, region: Region, family: _Family) -> SeedanceModel:
    spec = ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(
            text_to_video=family.text_to_video,
            image_to_video=family.image_to_video,
            end_frame=family.end_frame,
            max_reference_images=family.references,
        ),
        durations=family.durations,
        default_duration=5,
        sizes=RATIOS,
        default_size=family.default_ratio,
        typical_seconds=family.typical_seconds,
        precedence=_precedence(family),
        metadata_fields=METADATA_FIELDS,
        description=f"{family.description} ({'Volcengine Ark' if region is Region.CN else 'BytePlus ModelArk'})",
        # frames (first, last) and reference images never mix: the larger of the two modes
        max_images=max(2 if family.end_frame else 1, family.references) if family.image_to_video else None,
        image_rules=ImageRules(types=IMAGE_TYPES + (HEIC_TYPES if family.heic else ()), max_bytes=MAX_IMAGE_BYTES),
    )
    return SeedanceModel(
        spec=spec,
        region=region,
        resolutions=family.resolutions,
        default_resolution=family.default_resolution,
        adaptive_only_i2v=family.adaptive_only_i2v,
        audio=family.audio,
        seed_and_camera=family.seed_and_camera,
        flex=family.flex,
        adaptive_t2v=family.adaptive_t2v,
    )


def _catalogue() -> tuple[SeedanceModel, ...]:
    cn = [_model(volc, Region.CN, _FAMILIES[family]) for volc, _, family in _CATALOGUE]
    intl = [_model(bp, Region.INTL, _FAMILIES[family]) for _, bp, family in _CATALOGUE if bp]
    return (*cn, *intl)


MODELS: tuple[SeedanceModel, ...] = _catalogue()
BY_NAME: dict[str, SeedanceModel] = {model.name: model for model in MODELS}


def models_of(region: Region) -> tuple[str, ...]:
    return tuple(model.name for model in MODELS if model.region is region)


def seedance_model(spec: ModelSpec) -> SeedanceModel:
    """The Seedance facts for ``spec``; a spec built elsewhere gets the 2.0 rules of its name's region."""
    found = BY_NAME.get(spec.name)
    if found is not None:
        return found
    region = Region.CN if spec.name.startswith("doubao-") else Region.INTL
    family = _FAMILIES["2.0"]
    return SeedanceModel(spec=spec, region=region, resolutions=family.resolutions, default_resolution="720p")
