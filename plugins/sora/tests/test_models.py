"""Registration, the models as data, and how the core applies their precedence rules."""

from __future__ import annotations

import pytest

from reelay import (
    ImageInput,
    InputKind,
    InvalidRequest,
    MetadataPolicy,
    NormalizationPolicy,
    UnifiedRequest,
    ValueNotAllowed,
)
from reelay.normalize import normalize
from reelay.plugins import Registry, make_plugin_manager
from reelay_sora.models import MODELS, VENDOR_SPEC

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
BY_NAME = {model.name: model for model in MODELS}


def test_the_plugin_is_found_through_the_entry_point():
    registry = Registry.collect(make_plugin_manager())
    assert registry.vendors["sora"] == VENDOR_SPEC
    assert registry.model("sora-2") is BY_NAME["sora-2"]
    assert registry.model("sora-2-2025-10-06") is BY_NAME["sora-2"]
    assert registry.model("sora-2-2025-12-08") is BY_NAME["sora-2"]
    assert registry.model("sora-2-pro-2025-10-06") is BY_NAME["sora-2-pro"]
    assert [emulator.credentials for emulator in registry.emulators if emulator.vendor == "sora"] == [
        {"api_key": "sk-demo-sora"}
    ]


def test_vendor_spec():
    assert VENDOR_SPEC.default_base_url == "https://api.openai.com"
    assert {(c.name, c.required) for c in VENDOR_SPEC.credentials} == {
        ("api_key", True),
        ("organization", False),
        ("project", False),
    }
    assert VENDOR_SPEC.can_cancel and VENDOR_SPEC.can_remix


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("sora-2", ("1280x720", "720x1280")),
        ("sora-2-pro", ("1280x720", "720x1280", "1024x1792", "1792x1024")),
    ],
)
def test_models_match_the_reference_tables(name, sizes):
    model = BY_NAME[name]
    assert model.durations == (4, 8, 12) and model.default_duration == 4
    assert model.sizes == sizes and model.default_size == "720x1280"
    assert model.capabilities.text_to_video and model.capabilities.image_to_video
    assert not model.capabilities.end_frame and model.capabilities.max_reference_images == 0
    assert model.precedence.duration_sources == ("seconds", "duration")
    assert model.precedence.image_sources == ("input_reference", "image", "images")
    assert model.precedence.metadata is MetadataPolicy.KNOWN and model.metadata_fields == ()


def _normalize(model: str = "sora-2", policy=NormalizationPolicy.SNAP, **values):
    return normalize(UnifiedRequest(model=model, **values), BY_NAME[model], policy)


def test_defaults():
    request = _normalize(prompt="a cat")
    assert (request.duration, request.size) == (4, "720x1280")


def test_seconds_wins_over_duration():
    assert _normalize(prompt="a cat", seconds="12", duration=4).duration == 12
    assert _normalize(prompt="a cat", duration=8).duration == 8


def test_a_duration_between_values_snaps_or_is_refused():
    request = _normalize(prompt="a cat", seconds="10")
    assert request.duration == 12 and request.adjustments[0].field == "seconds"
    with pytest.raises(ValueNotAllowed) as raised:
        _normalize(prompt="a cat", seconds="10", policy=NormalizationPolicy.STRICT)
    assert raised.value.allowed == [4, 8, 12]


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("sora-2", "16:9", "1280x720"),
        ("sora-2", "9:16", "720x1280"),
        ("sora-2-pro", "16:9", "1280x720"),
        ("sora-2-pro", "1792x1024", "1792x1024"),
    ],
)
def test_ratio_sizes_map_to_the_models_size(model, size, expected):
    assert _normalize(model, prompt="a cat", size=size).size == expected


def test_a_pro_only_size_on_sora_2_snaps_or_is_refused():
    assert _normalize(prompt="a cat", size="1792x1024").size == "1280x720"
    with pytest.raises(ValueNotAllowed):
        _normalize(prompt="a cat", size="1792x1024", policy=NormalizationPolicy.STRICT)


def test_input_reference_wins_over_image_and_images():
    request = _normalize(
        prompt="a cat",
        input_reference=("https://img.example/ref.png",),
        image="https://img.example/image.png",
        images=("https://img.example/first.png",),
    )
    assert request.first_frame == ImageInput(url="https://img.example/ref.png")


def test_image_wins_over_images_and_the_first_of_images_is_used():
    request = _normalize(prompt="a cat", image="https://img.example/image.png", images=("https://img.example/b.png",))
    assert request.first_frame.url == "https://img.example/image.png"
    request = _normalize(prompt="a cat", images=("https://img.example/first.png", "https://img.example/b.png"))
    assert request.first_frame.url == "https://img.example/first.png"


@pytest.mark.parametrize("field", ["input_reference", "image", "images"])
def test_each_image_field_gives_the_first_frame(field):
    value = "https://img.example/frame.png"
    request = _normalize(prompt="a cat", **{field: value if field == "image" else (value,)})
    assert request.first_frame == ImageInput(url=value)


def test_the_same_image_in_several_fields_is_one_image():
    value = "https://img.example/frame.png"
    request = _normalize(prompt="a cat", input_reference=(value,), image=value, images=(value,))
    assert request.first_frame == ImageInput(url=value)


def test_an_upload_is_the_input_reference():
    upload = ImageInput(base64=PNG_B64, mime_type="image/png", filename="frame.png")
    request = normalize(UnifiedRequest(model="sora-2", prompt="a cat", uploads=(upload,)), BY_NAME["sora-2"])
    assert request.first_frame is upload


def test_metadata_is_dropped_and_reported():
    request = _normalize(prompt="a cat", metadata={"quality": "high", "model": "x"})
    assert request.extra == {}
    assert set(request.dropped_metadata) == {"quality", "model"}


def test_prompt_rule_and_bounds_are_model_data():
    model = MODELS[0]
    assert model.rules_for(InputKind.IMAGE).prompt_required and model.max_prompt_chars == 32000
    with pytest.raises(InvalidRequest) as caught:
        _normalize(image="https://img.example/cat.png")
    assert caught.value.code == "missing_prompt" and caught.value.param == "prompt"
    with pytest.raises(InvalidRequest) as caught:
        _normalize(prompt="x" * 32001)
    assert caught.value.code == "prompt_too_long"
    with pytest.raises(InvalidRequest) as caught:
        _normalize(prompt="a cat", images=tuple(f"https://img.example/{i}.png" for i in range(10_000)))
    assert caught.value.code == "too_many_images"
