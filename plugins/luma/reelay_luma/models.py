"""Luma's Dream Machine video models, declared as data.

Sources: Luma's OpenAPI spec and the ``lumaai`` SDK's generated types
(``generations/video_create_params.py``: ``aspect_ratio``, ``resolution``,
``duration`` ``"5s"``/``"9s"``, ``model`` ``ray-2``/``ray-flash-2``), the
docs' error page (prompt 3..5000 characters, loop refusals). A prompt is
required for text-to-video and optional with a keyframe image; at most two
keyframe images (start, end). The core enforces these from the data below;
the wire module keeps what has no field: the 3-character minimum and
keyframes as URLs only.

The core's ``size`` carries the aspect ratio; Luma's ``resolution`` (540p to
4k) has no field in the core and travels in ``metadata.resolution``.
"""

from __future__ import annotations

from reelay import Capabilities, ImageRole, InputKind, InputRules, MetadataPolicy, ModelSpec, PrecedenceRules

VENDOR = "luma"

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
RESOLUTIONS = ("540p", "720p", "1080p", "4k")
DURATIONS = (5, 9)
PROMPT_MIN, PROMPT_MAX = 3, 5000

#: Luma's request fields a caller may set through ``metadata``.
METADATA_FIELDS = ("resolution", "loop", "concepts")

RULES = PrecedenceRules(
    duration_sources=("seconds", "duration"),
    image_sources=("image", "images", "input_reference"),
    image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),  # keyframes.frame0, keyframes.frame1
    size_on_image_to_video=True,  # aspect_ratio is sent with keyframes as well
    metadata=MetadataPolicy.KNOWN,
    protected_fields=("model", "keyframes", "callback_url", "generation_type"),
)


def _ray(name: str, typical_seconds: float, description: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(text_to_video=True, image_to_video=True, end_frame=True),
        durations=DURATIONS,
        default_duration=5,
        sizes=ASPECT_RATIOS,
        default_size="16:9",
        typical_seconds=typical_seconds,
        precedence=RULES,
        metadata_fields=METADATA_FIELDS,
        description=description,
        inputs=(InputRules(InputKind.IMAGE, prompt_required=False),),  # a keyframe image may stand alone
        max_prompt_chars=PROMPT_MAX,
        max_images=2,  # keyframes.frame0 and frame1
    )


MODELS: tuple[ModelSpec, ...] = (
    _ray("ray-2", 120, "Luma Ray 2: text or start/end keyframes to video, 5 or 9 s, 540p to 4k"),
    _ray("ray-flash-2", 45, "Luma Ray Flash 2: faster, cheaper Ray 2; 5 or 9 s, 540p to 4k"),
)

MODEL_NAMES = tuple(model.name for model in MODELS)
