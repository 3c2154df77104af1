"""Kling's models, declared as data.

Each entry is a :class:`reelay.ModelSpec` (what the core reads: capabilities,
durations, sizes, precedence rules, documented metadata keys) plus the few
Kling facts the core has no field for (``cfg_scale``, ``mode``, ``sound``),
which :mod:`reelay_kling.wire` checks before anything is sent.

Sources: Kling's API reference (text2video / image2video model enums,
``cfg_scale`` "not supported by kling-v2.x", ``mode`` std/pro, durations
"5"/"10", text-to-video aspect ratios 16:9, 9:16, 1:1; ``prompt`` at most 2500
characters; ``image``/``image_tail`` jpg/jpeg/png, at most 10 MB, each side at
least 300 px, aspect ratio 1:2.5 to 2.5:1; requests with an end frame are
5 s only) and Kling's capability map for start+end frames (``image_tail``).

Video extension (``POST /v1/videos/video-extend``), from copies of Kling's
reference: each extension adds 4 to 5 seconds with the source's own model and
mode; videos of kling-v1-5 cannot be extended; an extended video can be
extended again up to 3 minutes in all; videos are deleted (and can no longer be
extended) 30 days after generation. Only kling-v1 and kling-v1-6 are declared
able: the copies name no v2 model as able (see the README).
"""

from __future__ import annotations

from attrs import frozen

from reelay import (
    Capabilities,
    ImageRole,
    ImageRules,
    InputKind,
    InputRules,
    MetadataPolicy,
    ModelSpec,
    PrecedenceRules,
)

VENDOR = "kling"

#: Text-to-video aspect ratios; image-to-video follows the input image.
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
DURATIONS = (5, 10)
MODES = ("std", "pro")
MAX_PROMPT_CHARS = 2500
#: A first frame and a last frame (``image``, ``image_tail``).
MAX_IMAGES = 2
IMAGE_RULES = ImageRules(
    types=("image/jpeg", "image/png"),
    max_bytes=10 * 1024 * 1024,
    min_side=300,
    min_aspect=1 / 2.5,
    max_aspect=2.5,
)
#: With an end frame (``image_tail``) Kling generates 5 seconds only.
INPUTS = (InputRules(InputKind.FIRST_LAST, durations=(5,)),)
#: What one extension adds: Kling says "4 to 5 seconds", not chosen by the caller.
EXTENSION_SECONDS = (5,)
#: The longest video Kling extends to, in seconds ("cannot exceed 3 minutes").
MAX_EXTENDED_SECONDS = 180
#: Kling deletes videos this many days after generation; they can no longer be extended.
RETENTION_DAYS = 30

#: Kling's documented request fields a caller may set through ``metadata``.
METADATA_FIELDS = (
    "negative_prompt",
    "cfg_scale",
    "mode",
    "camera_control",
    "static_mask",
    "dynamic_masks",
    "callback_url",
    "sound",
)

PRECEDENCE = PrecedenceRules(
    duration_sources=("duration", "seconds"),
    image_sources=("image", "input_reference", "images"),
    image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
    size_on_image_to_video=False,
    metadata=MetadataPolicy.KNOWN,
    protected_fields=("model_name", "model", "external_task_id"),
)


@frozen
class KlingModel:
    """A Kling model: the core's spec plus the Kling-only facts.

    :param cfg_scale: whether the model takes ``cfg_scale`` (v1.x only).
    :param modes: the ``mode`` values it accepts.
    :param sound: whether it takes ``sound`` (kling-v2-6 and later).
    :param sound_modes: the modes in which ``sound: "on"`` is offered.
    """

    spec: ModelSpec
    cfg_scale: bool = False
    modes: tuple[str, ...] = MODES
    sound: bool = False
    sound_modes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name


def _model(
    name: str,
    *,
    text_to_video: bool,
    end_frame: bool,
    typical_seconds: float,
    description: str,
    cfg_scale: bool = False,
    sound: bool = False,
    sound_modes: tuple[str, ...] = (),
    extends: bool = False,
) -> KlingModel:
    spec = ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(
            text_to_video=text_to_video,
            image_to_video=True,
            end_frame=end_frame,
            extend=extends,
            extension_seconds=EXTENSION_SECONDS if extends else (),
        ),
        durations=DURATIONS,
        default_duration=5,
        sizes=ASPECT_RATIOS,
        default_size="16:9",
        typical_seconds=typical_seconds,
        precedence=PRECEDENCE,
        metadata_fields=METADATA_FIELDS,
        description=description,
        inputs=INPUTS if end_frame else (),
        image_rules=IMAGE_RULES,
        max_prompt_chars=MAX_PROMPT_CHARS,
        max_images=MAX_IMAGES,
    )
    return KlingModel(spec=spec, cfg_scale=cfg_scale, sound=sound, sound_modes=sound_modes)


MODELS: tuple[KlingModel, ...] = (
    _model(
        "kling-v1",
        text_to_video=True,
        end_frame=True,
        cfg_scale=True,
        extends=True,
        typical_seconds=240,
        description="Kling 1.0: text and image to video, motion brush, camera control, video extension",
    ),
    _model(
        "kling-v1-5",
        text_to_video=False,
        end_frame=True,
        cfg_scale=True,
        typical_seconds=240,
        description="Kling 1.5: image to video only",
    ),
    _model(
        "kling-v1-6",
        text_to_video=True,
        end_frame=True,
        cfg_scale=True,
        extends=True,
        typical_seconds=240,
        description="Kling 1.6: text and image to video, video extension",
    ),
    _model(
        "kling-v2-master",
        text_to_video=True,
        end_frame=False,
        typical_seconds=360,
        description="Kling 2.0 Master: text and image to video",
    ),
    _model(
        "kling-v2-1",
        text_to_video=False,
        end_frame=True,
        typical_seconds=240,
        description="Kling 2.1: image to video only (start+end frame in pro mode)",
    ),
    _model(
        "kling-v2-1-master",
        text_to_video=True,
        end_frame=False,
        typical_seconds=360,
        description="Kling 2.1 Master: text and image to video",
    ),
    _model(
        "kling-v2-5-turbo",
        text_to_video=True,
        end_frame=True,
        typical_seconds=150,
        description="Kling 2.5 Turbo: text and image to video",
    ),
    _model(
        "kling-v2-6",
        text_to_video=True,
        end_frame=True,
        sound=True,
        sound_modes=("pro",),
        typical_seconds=240,
        description="Kling 2.6: text and image to video with native audio (sound: on, pro mode)",
    ),
)

BY_NAME: dict[str, KlingModel] = {model.name: model for model in MODELS}

#: The upstream model names each endpoint family accepts (what the emulator checks).
TEXT2VIDEO_MODELS = tuple(m.name for m in MODELS if m.spec.capabilities.text_to_video)
IMAGE2VIDEO_MODELS = tuple(m.name for m in MODELS if m.spec.capabilities.image_to_video)
CFG_SCALE_MODELS = tuple(m.name for m in MODELS if m.cfg_scale)
#: The models whose videos ``POST /v1/videos/video-extend`` takes.
EXTEND_MODELS = tuple(m.name for m in MODELS if m.spec.capabilities.extend)


def kling_model(spec: ModelSpec) -> KlingModel:
    """The Kling facts for ``spec`` (a spec registered by this plugin)."""
    found = BY_NAME.get(spec.name)
    if found is None:
        # A spec built elsewhere for the kling vendor: assume the v2 rules
        # (no cfg_scale), which is what newer Kling models follow.
        return KlingModel(spec=spec)
    return found
