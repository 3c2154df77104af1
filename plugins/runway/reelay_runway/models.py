"""Runway's video models, declared as data.

Each entry is a :class:`reelay.ModelSpec`, which the core reads and
enforces: the ratios per kind of input (gen4.5 offers six for image-to-video
but only two for text-to-video) and whether a prompt is required, as
``InputRules``; the prompt limit, the image count and the image rules. The
Runway facts the core has no field for sit beside it: which optional
request fields each endpoint documents.

Sources: Runway's API reference and the ``runwayml`` SDK's generated types
(``image_to_video_create_params.py``, ``text_to_video_create_params.py``),
Runway's ``rw-api-reference`` (gen4.5 on both endpoints). Sizes are declared
as Runway's own ratios (``1280:720``); a caller's ``16:9`` means the ratio
of that shape, ``1280x720`` the same numbers.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

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

VENDOR = "runway"


class Endpoint(enum.StrEnum):
    """Runway's two video endpoints; a model's body is a union discriminated by ``model``."""

    TEXT_TO_VIDEO = "text_to_video"
    IMAGE_TO_VIDEO = "image_to_video"

    @property
    def path(self) -> str:
        return f"/v1/{self.value}"


GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
GEN45_TEXT_RATIOS = ("1280:720", "720:1280")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
GEN4_DURATIONS = tuple(range(2, 11))
VEO_DURATIONS = (4, 6, 8)

#: ``promptText`` is 1..1000 characters counted in UTF-16 code units; the core
#: counts code points (the same for most text), the wire module the units.
MAX_PROMPT_UTF16 = 1000
MAX_DATA_URI = 5 * 1024 * 1024  # an inline image's data URI, base64 overhead included
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
IMAGE_RULES = ImageRules(
    types=IMAGE_TYPES,
    # decoded bytes whose data URI (prefix included) stays under MAX_DATA_URI
    max_bytes=(MAX_DATA_URI - 64) * 3 // 4,
    https_domain=True,
)

PRECEDENCE = PrecedenceRules(
    duration_sources=("duration", "seconds"),
    image_sources=("image", "input_reference", "images"),
    image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
    size_on_image_to_video=True,  # Runway asks for a ratio on image-to-video too
    metadata=MetadataPolicy.KNOWN,
    protected_fields=("model", "promptText", "promptImage", "ratio", "duration"),
)


@frozen
class RunwayModel:
    """A Runway model: the core's spec plus what Runway decides per endpoint.

    :param fields: the optional request fields each endpoint documents, which
        a caller may set through ``metadata`` under Runway's own names.
    """

    spec: ModelSpec
    fields: Mapping[Endpoint, tuple[str, ...]]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        capabilities = self.spec.capabilities
        offered = (
            (Endpoint.TEXT_TO_VIDEO, capabilities.text_to_video),
            (Endpoint.IMAGE_TO_VIDEO, capabilities.image_to_video),
        )
        return tuple(endpoint for endpoint, offers in offered if offers)

    @property
    def ratios(self) -> Mapping[Endpoint, tuple[str, ...]]:
        """The ratios each endpoint accepts, from the spec's per-input rules."""
        return {endpoint: self.spec.rules_for(_KIND[endpoint]).sizes or () for endpoint in self.endpoints}

    @property
    def prompt_required(self) -> tuple[Endpoint, ...]:
        """The endpoints on which ``promptText`` is required."""
        return tuple(e for e in self.endpoints if self.spec.rules_for(_KIND[e]).prompt_required)


_KIND = {Endpoint.TEXT_TO_VIDEO: InputKind.TEXT, Endpoint.IMAGE_TO_VIDEO: InputKind.IMAGE}


def _model(
    name: str,
    *,
    ratios: Mapping[Endpoint, tuple[str, ...]],
    fields: Mapping[Endpoint, tuple[str, ...]],
    durations: tuple[int, ...],
    default_duration: int,
    end_frame: bool,
    typical_seconds: float,
    description: str,
    prompt_required: tuple[Endpoint, ...] = (),
) -> RunwayModel:
    sizes = tuple(dict.fromkeys(size for allowed in ratios.values() for size in allowed))
    inputs = tuple(
        InputRules(
            _KIND[endpoint],
            sizes=allowed if allowed != sizes else None,
            # text always needs a prompt; the image endpoint of gen4.5 does too
            prompt_required=True if endpoint in prompt_required and endpoint is Endpoint.IMAGE_TO_VIDEO else None,
        )
        for endpoint, allowed in ratios.items()
    )
    spec = ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(
            text_to_video=Endpoint.TEXT_TO_VIDEO in ratios,
            image_to_video=Endpoint.IMAGE_TO_VIDEO in ratios,
            end_frame=end_frame,
        ),
        durations=durations,
        default_duration=default_duration,
        sizes=sizes,
        default_size="1280:720",
        typical_seconds=typical_seconds,
        precedence=PRECEDENCE,
        metadata_fields=tuple(dict.fromkeys(field for names in fields.values() for field in names)),
        description=description,
        inputs=tuple(rules for rules in inputs if rules != InputRules(rules.kind)),
        max_prompt_chars=MAX_PROMPT_UTF16,
        max_images=2 if end_frame else 1,
        image_rules=IMAGE_RULES,
    )
    return RunwayModel(spec=spec, fields=fields)


_GEN4_FIELDS = ("seed", "contentModeration")


def _veo(name: str, *, typical_seconds: float, description: str) -> RunwayModel:
    """Google's Veo 3.1 family as Runway serves it: same ratios on both endpoints, 4/6/8 s, first + last frame."""
    return _model(
        name,
        ratios={Endpoint.TEXT_TO_VIDEO: VEO_RATIOS, Endpoint.IMAGE_TO_VIDEO: VEO_RATIOS},
        fields={Endpoint.TEXT_TO_VIDEO: ("audio",), Endpoint.IMAGE_TO_VIDEO: ("audio", "negativePrompt")},
        durations=VEO_DURATIONS,
        default_duration=8,
        end_frame=True,
        typical_seconds=typical_seconds,
        description=f"{description}: text or first (+ last) frame to video, 4/6/8 s",
    )


MODELS: tuple[RunwayModel, ...] = (
    _model(
        "gen4.5",
        ratios={Endpoint.TEXT_TO_VIDEO: GEN45_TEXT_RATIOS, Endpoint.IMAGE_TO_VIDEO: GEN4_RATIOS},
        fields={Endpoint.TEXT_TO_VIDEO: _GEN4_FIELDS, Endpoint.IMAGE_TO_VIDEO: _GEN4_FIELDS},
        durations=GEN4_DURATIONS,
        default_duration=5,
        end_frame=False,
        prompt_required=(Endpoint.TEXT_TO_VIDEO, Endpoint.IMAGE_TO_VIDEO),
        typical_seconds=90,
        description="Runway Gen-4.5: text to video (16:9, 9:16) and first frame to video, 2-10 s",
    ),
    _model(
        "gen4_turbo",
        ratios={Endpoint.IMAGE_TO_VIDEO: GEN4_RATIOS},
        fields={Endpoint.IMAGE_TO_VIDEO: _GEN4_FIELDS},
        durations=GEN4_DURATIONS,
        default_duration=5,
        end_frame=False,
        typical_seconds=45,
        description="Runway Gen-4 Turbo: first frame to video only, 2-10 s",
    ),
    _veo("veo3.1", typical_seconds=120, description="Google Veo 3.1 on Runway"),
    _veo("veo3.1_fast", typical_seconds=60, description="Google Veo 3.1 Fast on Runway"),
)

BY_NAME: Mapping[str, RunwayModel] = {model.name: model for model in MODELS}


def runway_model(spec: ModelSpec) -> RunwayModel:
    """The Runway facts for a registered spec; a spec built elsewhere gets gen4.5's fields with its own rules."""
    found = BY_NAME.get(spec.name) or BY_NAME.get(spec.upstream)
    if found is not None:
        return found
    return RunwayModel(spec=spec, fields=BY_NAME["gen4.5"].fields)


def to_ratio(size: str) -> str:
    """``1280x720`` as Runway writes it, ``1280:720``."""
    return size.replace("x", ":")
