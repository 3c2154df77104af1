"""The vendor and its models, declared as data.

Sources (see ``shared/reference/vendor-apis.md`` section A): OpenAI's OpenAPI
spec for ``POST /videos`` (``seconds`` is the string enum ``"4"``, ``"8"``,
``"12"``; ``size`` defaults to ``720x1280``; the model enum with its dated
snapshots; ``prompt`` required, 1-32000 characters, also with an image) and
the Sora 2 prompting guide's per-model size table; ``input_reference`` is one
JPEG, PNG or WebP image.
"""

from __future__ import annotations

from reelay import (
    Capabilities,
    CredentialSpec,
    ImageRole,
    ImageRules,
    InputKind,
    InputRules,
    MetadataPolicy,
    ModelSpec,
    PrecedenceRules,
    SurplusImages,
    VendorSpec,
)

VENDOR = "sora"

#: ``seconds`` values the endpoint accepts (sent as strings).
SECONDS = (4, 8, 12)
DEFAULT_SECONDS = 4

#: What ``POST /v1/videos/extensions`` adds, per OpenAI's SDK and reference ("4, 8, 12, 16, 20").
EXTENSION_SECONDS = (4, 8, 12, 16, 20)

SORA_2_SIZES = ("1280x720", "720x1280")
SORA_2_PRO_SIZES = (*SORA_2_SIZES, "1024x1792", "1792x1024")
DEFAULT_SIZE = "720x1280"

MAX_PROMPT_CHARS = 32000
#: Sora takes one image (the first frame) and the precedence rules drop the
#: rest, so this only bounds what a request may carry: one per image field.
MAX_IMAGES = 3
IMAGE_RULES = ImageRules(types=("image/jpeg", "image/png", "image/webp"))
#: ``prompt`` is required on every request, image-to-video too.
INPUTS = (InputRules(InputKind.IMAGE, prompt_required=True),)

#: Dated snapshots, by the floating model they pin.
SNAPSHOTS = {
    "sora-2": ("sora-2-2025-10-06", "sora-2-2025-12-08"),
    "sora-2-pro": ("sora-2-pro-2025-10-06",),
}

#: Every upstream model name the endpoint knows, with the sizes it allows.
UPSTREAM_SIZES: dict[str, tuple[str, ...]] = {
    "sora-2": SORA_2_SIZES,
    "sora-2-pro": SORA_2_PRO_SIZES,
    **{snapshot: SORA_2_SIZES for snapshot in SNAPSHOTS["sora-2"]},
    **{snapshot: SORA_2_PRO_SIZES for snapshot in SNAPSHOTS["sora-2-pro"]},
}

#: What ``GET /v1/videos/{id}/content?variant=`` serves, with its MIME type.
CONTENT_VARIANTS = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}

#: The fields of ``POST /v1/videos``; none of them may come from ``metadata``.
WIRE_FIELDS = ("prompt", "model", "seconds", "size", "input_reference")

# OpenAI's endpoint rejects unknown fields, and every documented field is
# already set from a unified field, so ``metadata`` has nothing to add: the
# policy is KNOWN with no known keys, and every key is dropped and reported
# on the task (rather than forwarded into a 400).
PRECEDENCE = PrecedenceRules(
    duration_sources=("seconds", "duration"),
    image_sources=("input_reference", "image", "images"),
    image_roles=(ImageRole.FIRST_FRAME,),
    surplus_images=SurplusImages.DROP,  # "input_reference, else image, else the first of images"
    size_on_image_to_video=True,
    metadata=MetadataPolicy.KNOWN,
    protected_fields=WIRE_FIELDS,
)

VENDOR_SPEC = VendorSpec(
    name=VENDOR,
    title="OpenAI Videos (Sora)",
    default_base_url="https://api.openai.com",
    credentials=(
        CredentialSpec("api_key", description="sent as Authorization: Bearer <api_key>"),
        CredentialSpec(
            "organization", required=False, secret=False, description="sent as the OpenAI-Organization header"
        ),
        CredentialSpec("project", required=False, secret=False, description="sent as the OpenAI-Project header"),
    ),
    can_cancel=True,
    can_remix=True,
    docs_url="https://platform.openai.com/docs/guides/video-generation",
)


def _model(name: str, sizes: tuple[str, ...], typical_seconds: float, description: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(
            text_to_video=True,
            image_to_video=True,
            remix=True,
            cancel=True,  # DELETE /v1/videos/{id}: the video and its job go
            extend=True,
            edit=True,
            characters=True,
            extension_seconds=EXTENSION_SECONDS,
        ),
        durations=SECONDS,
        default_duration=DEFAULT_SECONDS,
        sizes=sizes,
        default_size=DEFAULT_SIZE,
        typical_seconds=typical_seconds,
        precedence=PRECEDENCE,
        aliases=SNAPSHOTS[name],
        metadata_fields=(),
        description=description,
        inputs=INPUTS,
        image_rules=IMAGE_RULES,
        max_prompt_chars=MAX_PROMPT_CHARS,
        max_images=MAX_IMAGES,
    )


MODELS: tuple[ModelSpec, ...] = (
    _model("sora-2", SORA_2_SIZES, 90.0, "Sora 2: fast text or first-frame image to video with audio"),
    _model("sora-2-pro", SORA_2_PRO_SIZES, 240.0, "Sora 2 Pro: higher fidelity, adds 1024x1792 and 1792x1024"),
)
