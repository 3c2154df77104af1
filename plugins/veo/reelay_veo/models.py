"""Veo models, declared as data.

Each :class:`VeoModel` pairs the :class:`reelay.ModelSpec` the core sees with
the few Veo facts the wire module needs: which ``resolution`` values the
model takes, whether it makes audio, and which API forms serve it.

Input bounds (``shared/reference/vendor-apis.md`` B.1, B.2): images are
JPEG, PNG or WebP sent as bytes (the Gemini API refuses ``gcsUri``), up to
20 MB (Veo 2's stated limit); a first frame, a last frame and up to three
reference images; the prompt is at most 1,024 tokens.
"""

from __future__ import annotations

import enum

from attrs import frozen

from reelay import Capabilities, DurationRule, ImageRole, ImageRules, MetadataPolicy, ModelSpec, PrecedenceRules

VENDOR = "veo"


class ApiForm(enum.StrEnum):
    """The two Google surfaces that serve Veo."""

    GEMINI = "gemini"  # generativelanguage.googleapis.com, API key
    VERTEX = "vertex"  # {location}-aiplatform.googleapis.com, OAuth bearer token


#: ``size`` -> (aspectRatio, resolution). A bare ratio sets only the ratio.
SIZES: dict[str, tuple[str, str | None]] = {
    "16:9": ("16:9", None),
    "9:16": ("9:16", None),
    "1280x720": ("16:9", "720p"),
    "720x1280": ("9:16", "720p"),
    "1920x1080": ("16:9", "1080p"),
    "1080x1920": ("9:16", "1080p"),
    "3840x2160": ("16:9", "4k"),
    "2160x3840": ("9:16", "4k"),
}

SIZES_720P = ("16:9", "9:16", "1280x720", "720x1280")
SIZES_1080P = ("1920x1080", "1080x1920")
SIZES_4K = ("3840x2160", "2160x3840")

#: Parameters only Vertex AI takes; Google's SDK refuses each in Gemini mode.
VERTEX_ONLY_PARAMETERS = (
    "seed",
    "generateAudio",
    "storageUri",
    "compressionQuality",
    "resizeMode",
    "fps",
    "pubsubTopic",
)
#: Parameters both forms take, accepted from ``metadata``.
COMMON_PARAMETERS = ("negativePrompt", "enhancePrompt", "personGeneration")

IMAGE_RULES = ImageRules(types=("image/jpeg", "image/png", "image/webp"), max_bytes=20 * 1024 * 1024, inline_urls=True)
#: A first frame, a last frame and three reference images.
MAX_IMAGES = 5
#: Google counts 1,024 tokens, which the gateway cannot count; no prompt of
#: 1,024 tokens reaches this many characters, so longer ones are refused here.
MAX_PROMPT_CHARS = 8192

PRECEDENCE = PrecedenceRules(
    duration_sources=("duration", "seconds", "metadata.durationSeconds"),
    image_sources=("image", "input_reference", "images"),
    image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
    reference_image_sources=("metadata.referenceImages",),
    metadata=MetadataPolicy.KNOWN,
)


@frozen
class VeoModel:
    """A Veo model: the core's spec plus what the payload builder needs.

    :param resolutions: the ``resolution`` values the model takes; empty for
        models without the parameter (Veo 2), which then get only ``aspectRatio``.
    :param audio: the model makes sound (Veo 3.x); Vertex wants ``generateAudio``.
    :param forms: the API forms that serve the model.
    """

    spec: ModelSpec
    resolutions: tuple[str, ...] = ("720p",)
    audio: bool = True
    forms: tuple[ApiForm, ...] = (ApiForm.GEMINI, ApiForm.VERTEX)

    @property
    def name(self) -> str:
        return self.spec.name


def _veo3(
    name: str,
    description: str,
    *,
    resolutions: tuple[str, ...],
    references: bool,
    end_frame: bool = True,
    typical_seconds: float = 90.0,
    upstream_name: str | None = None,
    forms: tuple[ApiForm, ...] = (ApiForm.GEMINI, ApiForm.VERTEX),
    portrait_1080p: bool = True,
    extends: bool = False,
) -> VeoModel:
    sizes = SIZES_720P
    if "1080p" in resolutions:
        sizes += SIZES_1080P if portrait_1080p else SIZES_1080P[:1]
    if "4k" in resolutions:
        sizes += SIZES_4K
    long_only = tuple(size for size in sizes if size in SIZES_1080P + SIZES_4K)
    spec = ModelSpec(
        name=name,
        vendor=VENDOR,
        upstream_name=upstream_name,
        capabilities=Capabilities(
            text_to_video=True,
            image_to_video=True,
            end_frame=end_frame,
            max_reference_images=3 if references else 0,
            # Veo's API has no cancel, remix, edit or characters; Veo 3.1 (not Lite) extends its own videos.
            cancel=False,
            remix=False,
            extend=extends,
            extension_seconds=(7,) if extends else (),
        ),
        durations=(4, 6, 8),
        default_duration=8,
        duration_rules=(DurationRule(allowed=(8,), sizes=long_only, with_reference_images=references),),
        sizes=sizes,
        default_size="1280x720",
        typical_seconds=typical_seconds,
        precedence=PRECEDENCE,
        metadata_fields=COMMON_PARAMETERS + VERTEX_ONLY_PARAMETERS,
        description=description,
        image_rules=IMAGE_RULES,
        max_prompt_chars=MAX_PROMPT_CHARS,
        max_images=MAX_IMAGES,
    )
    return VeoModel(spec=spec, resolutions=resolutions, audio=True, forms=forms)


_ALL_RESOLUTIONS = ("720p", "1080p", "4k")

MODELS: tuple[VeoModel, ...] = (
    _veo3(
        "veo-3.1-generate-preview",
        "Veo 3.1 with sound; first/last frame and up to 3 reference images",
        resolutions=_ALL_RESOLUTIONS,
        references=True,
        extends=True,
    ),
    _veo3(
        "veo-3.1-fast-generate-preview",
        "Veo 3.1 Fast with sound; first/last frame and up to 3 reference images",
        resolutions=_ALL_RESOLUTIONS,
        references=True,
        typical_seconds=60.0,
        extends=True,
    ),
    _veo3(
        "veo-3.1-lite-generate-preview",
        "Veo 3.1 Lite with sound; first/last frame, no reference images, up to 1080p",
        resolutions=("720p", "1080p"),
        references=False,
        typical_seconds=45.0,
    ),
    _veo3(
        "veo-3.0-generate-001",
        "Veo 3 with sound; first frame only, 1080p landscape",
        resolutions=("720p", "1080p"),
        references=False,
        end_frame=False,
        portrait_1080p=False,
    ),
    _veo3(
        "veo-3.0-fast-generate-001",
        "Veo 3 Fast with sound; first frame only, 1080p landscape",
        resolutions=("720p", "1080p"),
        references=False,
        end_frame=False,
        portrait_1080p=False,
        typical_seconds=60.0,
    ),
    VeoModel(
        spec=ModelSpec(
            name="veo-2.0-generate-001",
            vendor=VENDOR,
            capabilities=Capabilities(text_to_video=True, image_to_video=True, cancel=False, remix=False),
            durations=(5, 6, 7, 8),
            default_duration=8,
            sizes=SIZES_720P,
            default_size="1280x720",
            typical_seconds=90.0,
            precedence=PRECEDENCE,
            metadata_fields=COMMON_PARAMETERS + VERTEX_ONLY_PARAMETERS,
            description="Veo 2, silent 720p; first frame only",
            image_rules=IMAGE_RULES,
            max_prompt_chars=MAX_PROMPT_CHARS,
            max_images=MAX_IMAGES,
        ),
        resolutions=(),
        audio=False,
    ),
    _veo3(
        "veo-3.1-generate-001",
        "Veo 3.1 (Vertex AI GA) with sound; first/last frame and up to 3 reference images",
        resolutions=_ALL_RESOLUTIONS,
        references=True,
        forms=(ApiForm.VERTEX,),
        extends=True,
    ),
    _veo3(
        "veo-3.1-fast-generate-001",
        "Veo 3.1 Fast (Vertex AI GA) with sound; first/last frame and up to 3 reference images",
        resolutions=_ALL_RESOLUTIONS,
        references=True,
        typical_seconds=60.0,
        forms=(ApiForm.VERTEX,),
        extends=True,
    ),
    _veo3(
        "veo-3",
        "The current Veo 3 model (veo-3.1-generate-preview; a channel's model_map may point it elsewhere)",
        resolutions=_ALL_RESOLUTIONS,
        references=True,
        upstream_name="veo-3.1-generate-preview",
        extends=True,
    ),
)

BY_NAME: dict[str, VeoModel] = {model.name: model for model in MODELS}
#: Upstream ids -> their model, for checking a channel's model_map target.
BY_UPSTREAM: dict[str, VeoModel] = {model.spec.upstream: model for model in MODELS if model.spec.upstream_name is None}


def veo_model(spec: ModelSpec) -> VeoModel:
    """The Veo facts for a registered model spec."""
    try:
        return BY_NAME[spec.name]
    except KeyError:
        raise LookupError(f"{spec.name!r} is not a Veo model") from None


def models_for(form: ApiForm) -> tuple[str, ...]:
    """Names of the models a channel of ``form`` serves."""
    return tuple(model.name for model in MODELS if form in model.forms)
