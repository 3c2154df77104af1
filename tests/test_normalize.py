"""Unified request -> GenerationRequest: precedence rules, defaults, snapping, strictness."""

import base64

import pytest

from reelay import (
    Capabilities,
    DurationRule,
    ImageRole,
    InvalidRequest,
    MetadataPolicy,
    ModelSpec,
    NormalizationPolicy,
    PrecedenceRules,
    UnifiedRequest,
    ValueNotAllowed,
)
from reelay.emulation import sample_asset
from reelay.normalize import nearest_duration, normalize, parse_image

PNG_B64 = base64.b64encode(sample_asset("sample.png")).decode()
STRICT = NormalizationPolicy.STRICT

PIXELS = ModelSpec(
    name="pixels",
    vendor="v",
    capabilities=Capabilities(image_to_video=True, end_frame=True, max_reference_images=1),
    durations=(4, 8, 12),
    default_duration=4,
    sizes=("720x1280", "1280x720", "1792x1024"),
    default_size="720x1280",
    precedence=PrecedenceRules(
        duration_sources=("seconds", "duration"),
        image_sources=("input_reference", "image", "images"),
        image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
    ),
)
RATIOS = ModelSpec(
    name="ratios",
    vendor="v",
    capabilities=Capabilities(image_to_video=True, end_frame=True),
    durations=(5, 10),
    sizes=("16:9", "9:16", "1:1"),
    default_size="16:9",
    metadata_fields=("negative_prompt", "mode"),
    precedence=PrecedenceRules(
        duration_sources=("duration", "seconds"),
        image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME),
        size_on_image_to_video=False,
        metadata=MetadataPolicy.KNOWN,
        protected_fields=("model_name", "model"),
    ),
)
IMAGE_ONLY = ModelSpec(name="still", vendor="v", capabilities=Capabilities(text_to_video=False, image_to_video=True))
HD_RULE = ModelSpec(
    name="hd",
    vendor="v",
    durations=(4, 6, 8),
    duration_rules=(DurationRule(allowed=(8,), sizes=("1920x1080",)),),
    sizes=("1280x720", "1920x1080", "16:9"),
    default_size="16:9",
    precedence=PrecedenceRules(duration_sources=("duration", "seconds", "metadata.durationSeconds")),
)


def req(**fields):
    fields.setdefault("model", "m")
    fields.setdefault("prompt", "a fox")
    return UnifiedRequest(**fields)


# ---------------------------------------------------------------- durations


def test_duration_precedence_seconds_over_duration():
    assert normalize(req(duration=4, seconds="8"), PIXELS).duration == 8


def test_duration_precedence_duration_over_seconds():
    assert normalize(req(duration=10, seconds="5"), RATIOS).duration == 10


def test_duration_from_metadata_last_and_consumed():
    result = normalize(req(metadata={"durationSeconds": 6, "x": 1}), HD_RULE)
    assert result.duration == 6
    assert "durationSeconds" not in result.extra and result.extra["x"] == 1


def test_duration_numeric_string_accepted():
    assert normalize(req(duration="10"), RATIOS).duration == 10


def test_duration_default_applied():
    assert normalize(req(), PIXELS).duration == 4
    assert normalize(req(), RATIOS).duration == 5


@pytest.mark.parametrize(("value", "expected"), [(7, 5), (8, 10), (7.5, 10), (1, 5), (60, 10)])
def test_duration_snaps_to_nearest_ties_longer(value, expected):
    result = normalize(req(duration=value), RATIOS)
    assert result.duration == expected
    assert result.adjustments[0].field == "duration" and result.adjustments[0].effective == expected


def test_nearest_duration_tie_goes_longer():
    assert nearest_duration(6, (4, 8)) == 8


def test_duration_strict_lists_allowed():
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(req(seconds="5"), PIXELS, STRICT)
    assert caught.value.param == "seconds"
    assert "4, 8, 12" in caught.value.message and caught.value.status == 400


@pytest.mark.parametrize("bad", ["five", "", True, -3, 0, [5], "nan"])
def test_duration_garbage_is_400(bad):
    if bad == "":  # empty is "not given"
        assert normalize(req(duration=bad), RATIOS).duration == 5
        return
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(duration=bad), RATIOS)
    assert caught.value.param == "duration"


def test_duration_rule_by_size():
    assert normalize(req(size="1920x1080", duration=4), HD_RULE).duration == 8
    with pytest.raises(ValueNotAllowed):
        normalize(req(size="1920x1080", duration=4), HD_RULE, STRICT)
    assert normalize(req(size="1920x1080"), HD_RULE).duration == 8


# ---------------------------------------------------------------- sizes


def test_size_default():
    assert normalize(req(), PIXELS).size == "720x1280"


def test_size_ratio_maps_to_model_pixels_without_adjustment():
    result = normalize(req(size="16:9"), PIXELS, STRICT)
    assert result.size == "1280x720" and result.adjustments == ()


def test_size_pixels_map_to_ratio_model():
    assert normalize(req(size="1280x720"), RATIOS, STRICT).size == "16:9"
    assert normalize(req(size="720x1280"), RATIOS, STRICT).size == "9:16"
    assert normalize(req(size="1024x1024"), RATIOS, STRICT).size == "1:1"


def test_size_snaps_to_closest_aspect():
    result = normalize(req(size="1000x1000"), PIXELS)
    assert result.size == "1792x1024"  # 7:4 is the least elongated shape offered
    assert result.adjustments[0].field == "size"
    assert normalize(req(size="5:4"), RATIOS).size == "1:1"
    assert normalize(req(size="21:9"), RATIOS).size == "16:9"


def test_size_snaps_to_closest_area_of_same_aspect():
    assert normalize(req(size="1920x1080"), PIXELS).size == "1280x720"


def test_size_strict_rejects():
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(req(size="1920x1080"), PIXELS, STRICT)
    assert caught.value.param == "size" and "1280x720" in caught.value.message


@pytest.mark.parametrize("bad", ["big", "1280", "0x720", "16/9"])
def test_size_garbage_is_400(bad):
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(size=bad), PIXELS)
    assert caught.value.param == "size"


def test_size_not_sent_for_image_to_video_when_image_decides():
    result = normalize(req(size="1280x720", image="https://x.test/a.png"), RATIOS)
    assert result.size is None
    assert result.adjustments[0].field == "size"


# ---------------------------------------------------------------- images


def test_image_precedence_image_then_input_reference_then_images():
    result = normalize(req(image="https://x.test/1.png", images=("https://x.test/2.png",)), RATIOS)
    assert result.first_frame.url == "https://x.test/1.png"
    assert result.last_frame.url == "https://x.test/2.png"
    result = normalize(req(images=("https://x.test/a.png",), input_reference=("https://x.test/b.png",)), RATIOS)
    assert result.first_frame.url == "https://x.test/b.png" and result.last_frame.url == "https://x.test/a.png"


def test_image_precedence_input_reference_first_when_declared():
    result = normalize(req(image="https://x.test/1.png", input_reference=("https://x.test/r.png",)), PIXELS)
    assert result.first_frame.url == "https://x.test/r.png"
    assert result.last_frame.url == "https://x.test/1.png"


def test_same_image_in_two_fields_counts_once():
    result = normalize(req(image="https://x.test/1.png", images=("https://x.test/1.png",)), RATIOS)
    assert result.first_frame.url == "https://x.test/1.png" and result.last_frame is None


def test_extra_images_become_references_up_to_the_limit():
    urls = tuple(f"https://x.test/{n}.png" for n in range(3))
    result = normalize(req(images=urls), PIXELS)
    assert [ref.url for ref in result.reference_images] == [urls[2]]
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(images=(*urls, "https://x.test/9.png")), PIXELS)
    assert caught.value.param == "images" and "at most 3" in caught.value.message


def test_reference_images_from_metadata():
    model = ModelSpec(
        name="refs",
        vendor="v",
        capabilities=Capabilities(image_to_video=True, max_reference_images=3),
        precedence=PrecedenceRules(reference_image_sources=("metadata.referenceImages",)),
    )
    result = normalize(
        req(metadata={"referenceImages": ["https://x.test/a.png", {"image": "https://x.test/b.png"}]}), model
    )
    assert [ref.url for ref in result.reference_images] == ["https://x.test/a.png", "https://x.test/b.png"]
    assert "referenceImages" not in result.extra


def test_image_forms():
    assert parse_image("https://x.test/a.png", "image").url == "https://x.test/a.png"
    data = parse_image(f"data:image/png;base64,{PNG_B64}", "image")
    assert data.base64 == PNG_B64 and data.mime_type == "image/png"
    raw = parse_image(PNG_B64, "image")
    assert raw.base64 == PNG_B64 and raw.mime_type == "image/png"
    assert raw.data_uri().startswith("data:image/png;base64,")


@pytest.mark.parametrize("bad", ["not an image!", "ftp://x/a.png", "data:image/png,rawtext", "abc"])
def test_bad_image_is_400_naming_field(bad):
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(images=(bad,)), RATIOS)
    assert caught.value.param == "images[0]"


def test_text_to_video_needs_prompt():
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(prompt="  "), RATIOS)
    assert caught.value.param == "prompt"


def test_image_to_video_without_prompt_is_fine():
    assert normalize(req(prompt=None, image="https://x.test/a.png"), RATIOS).prompt is None


def test_image_only_model_refuses_text_to_video():
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(), IMAGE_ONLY)
    assert caught.value.param == "image" and "image-to-video only" in caught.value.message


def test_text_only_model_refuses_images():
    text_only = ModelSpec(name="t", vendor="v")
    with pytest.raises(InvalidRequest) as caught:
        normalize(req(image="https://x.test/a.png"), text_only)
    assert caught.value.param == "image"


# ---------------------------------------------------------------- metadata


def test_metadata_known_policy_drops_unknown_and_protected():
    result = normalize(req(metadata={"negative_prompt": "blur", "style": "cinematic", "model_name": "evil"}), RATIOS)
    assert result.extra == {"negative_prompt": "blur"}
    assert set(result.dropped_metadata) == {"style", "model_name"}


def test_metadata_all_policy_passes_everything_but_protected():
    result = normalize(req(metadata={"style": "cinematic", "model": "evil"}), PIXELS)
    assert result.extra == {"style": "cinematic"}
    assert result.dropped_metadata == ("model",)


def test_precedence_rules_describe_themselves():
    lines = RATIOS.precedence.describe()
    assert lines[0] == "duration: duration > seconds"
    assert any("metadata: known" in line for line in lines)


def test_surplus_images_dropped_when_the_model_says_so():
    from reelay import SurplusImages

    one_image = ModelSpec(
        name="one",
        vendor="v",
        capabilities=Capabilities(image_to_video=True),
        precedence=PrecedenceRules(
            image_sources=("input_reference", "image", "images"), surplus_images=SurplusImages.DROP
        ),
    )
    result = normalize(req(image="https://x.test/i.png", images=("https://x.test/a.png",)), one_image)
    assert result.first_frame.url == "https://x.test/i.png" and result.reference_images == ()
    assert result.adjustments[0].field == "images" and result.adjustments[0].effective == 1
    result = normalize(req(images=("https://x.test/a.png", "https://x.test/b.png")), one_image)
    assert result.first_frame.url == "https://x.test/a.png"


def test_requested_model_keeps_the_alias():
    assert normalize(req(model="pixels-2025-01-01"), PIXELS).requested_model == "pixels-2025-01-01"
