"""MiniMax Hailuo's models, declared as data.

Hailuo takes a ``resolution`` (``512P``...``1080P``), not a pixel size; the
models declare the pixel size of each resolution's 16:9 frame, so the core
snaps, reports and rejects sizes as usual and the wire module sends the
resolution back. 10 s is never offered at 1080P: a :class:`reelay.DurationRule`.
What differs per input is ``InputRules`` (02 offers 512P for a first frame
only: not for text, not with a last frame), and the prompt limit and image
rules are data too, so the core refuses all of it before any call.

Sources: MiniMax API reference video-generation-t2v / -i2v / -fl2v / -s2v
(model enums, duration and resolution tables, defaults 6 s and 768P/720P).
"""

from __future__ import annotations

import enum

from attrs import frozen

from reelay import (
    Capabilities,
    DurationRule,
    ImageRole,
    ImageRules,
    InputKind,
    InputRules,
    MetadataPolicy,
    ModelSpec,
    PrecedenceRules,
)

VENDOR = "hailuo"


class Region(enum.StrEnum):
    """MiniMax's two platforms: separate accounts and keys, the same model ids."""

    INTL = "intl"
    CN = "cn"

    @property
    def origin(self) -> str:
        return "https://api.minimax.io" if self is Region.INTL else "https://api.minimaxi.com"


#: Hailuo resolution -> the pixel size the core sees (a 16:9 frame; image-to-video follows the image's shape).
RESOLUTIONS = {"1920x1080": "1080P", "1366x768": "768P", "1280x720": "720P", "912x512": "512P"}
P1080, P768, P720, P512 = RESOLUTIONS

METADATA_FIELDS = ("prompt_optimizer", "fast_pretreatment", "callback_url", "aigc_watermark")
MAX_PROMPT = 2000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
#: JPG, PNG or WebP; under 20 MB; short side over 300 px; aspect ratio between 2:5 and 5:2.
IMAGE_RULES = ImageRules(types=IMAGE_TYPES, max_bytes=20 * 1024 * 1024, min_side=301, min_aspect=0.4, max_aspect=2.5)


@frozen
class HailuoModel:
    """A Hailuo model: the core's spec plus what only Hailuo checks.

    :param fast_pretreatment: whether ``fast_pretreatment`` has an effect (2.3, 2.3-Fast, 02).
    :param subject: a subject-reference model (``S2V-01``): one reference image, no duration or resolution.
    """

    spec: ModelSpec
    fast_pretreatment: bool = False
    subject: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def text_sizes(self) -> tuple[str, ...]:
        """The sizes text-to-video takes (the spec's per-input rules)."""
        return self.spec.rules_for(InputKind.TEXT).sizes or () if self.spec.capabilities.text_to_video else ()


def _spec(
    name: str,
    caps: Capabilities,
    sizes: tuple[str, ...],
    default_size: str,
    typical_seconds: float,
    description: str,
) -> ModelSpec:
    tens = P768 in sizes or P512 in sizes
    # 512P is a first-frame-only resolution: not for text, nor with a last frame.
    without_512 = tuple(size for size in sizes if size != P512)
    kinds = (InputKind.TEXT, InputKind.FIRST_LAST) if caps.end_frame else (InputKind.TEXT,)
    inputs = tuple(InputRules(kind, sizes=without_512) for kind in kinds) if without_512 != sizes else ()
    return ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=caps,
        durations=(6, 10) if tens else (6,),
        default_duration=6,
        duration_rules=(DurationRule(allowed=(6,), sizes=(P1080,)),) if tens else (),
        sizes=sizes,
        default_size=default_size,
        typical_seconds=typical_seconds,
        precedence=PrecedenceRules(
            duration_sources=("duration", "seconds"),
            image_sources=("image", "input_reference", "images"),
            image_roles=(ImageRole.REFERENCE,)
            if caps.max_reference_images
            else (ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
            metadata=MetadataPolicy.KNOWN,
            protected_fields=("model", "first_frame_image", "last_frame_image", "subject_reference"),
        ),
        metadata_fields=METADATA_FIELDS,
        description=description,
        inputs=inputs,
        max_prompt_chars=MAX_PROMPT,
        max_images=(2 if caps.end_frame else 1) if caps.image_to_video else None,
        image_rules=IMAGE_RULES,
    )


_BOTH = Capabilities(text_to_video=True, image_to_video=True)
_IMAGE = Capabilities(text_to_video=False, image_to_video=True)
_TEXT = Capabilities(text_to_video=True, image_to_video=False)

MODELS: tuple[HailuoModel, ...] = (
    HailuoModel(
        _spec("MiniMax-Hailuo-2.3", _BOTH, (P768, P1080), P768, 180, "Hailuo 2.3: text and first frame"),
        fast_pretreatment=True,
    ),
    HailuoModel(
        _spec("MiniMax-Hailuo-2.3-Fast", _IMAGE, (P768, P1080), P768, 90, "Hailuo 2.3 Fast: first frame only"),
        fast_pretreatment=True,
    ),
    HailuoModel(
        _spec(
            "MiniMax-Hailuo-02",
            Capabilities(text_to_video=True, image_to_video=True, end_frame=True),
            (P512, P768, P1080),
            P768,
            180,
            "Hailuo 02: text, first frame (512P too), first and last frame",
        ),
        fast_pretreatment=True,
    ),
    HailuoModel(_spec("T2V-01-Director", _TEXT, (P720,), P720, 120, "T2V-01 with camera commands")),
    HailuoModel(_spec("T2V-01", _TEXT, (P720,), P720, 120, "Text to video, 720P 6 s")),
    HailuoModel(_spec("I2V-01-Director", _IMAGE, (P720,), P720, 120, "I2V-01 with camera commands")),
    HailuoModel(_spec("I2V-01-live", _IMAGE, (P720,), P720, 120, "Image to video for illustrations")),
    HailuoModel(_spec("I2V-01", _IMAGE, (P720,), P720, 120, "Image to video, 720P 6 s")),
    HailuoModel(
        _spec(
            "S2V-01",
            Capabilities(text_to_video=False, image_to_video=True, max_reference_images=1),
            (P720,),
            P720,
            120,
            "Subject reference: one character image and a prompt",
        ),
        subject=True,
    ),
)

BY_NAME: dict[str, HailuoModel] = {model.name: model for model in MODELS}


def hailuo_model(spec: ModelSpec) -> HailuoModel:
    """The Hailuo facts for ``spec``; a spec built elsewhere has only its own data."""
    return BY_NAME.get(spec.name) or HailuoModel(spec=spec)
