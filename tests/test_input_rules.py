"""Issue 15 and 14: rules per kind of input, ratios of any digits, prompt rules, bounds on input."""

import base64

import acme
import attrs
import pytest

from reelay import (
    Capabilities,
    ImageRole,
    InputKind,
    InputRules,
    InvalidRequest,
    ModelSpec,
    NormalizationPolicy,
    PrecedenceRules,
    UnifiedRequest,
    ValueNotAllowed,
)
from reelay.cli import describe_plugins
from reelay.emulation import sample_asset
from reelay.normalize import normalize, parse_size
from reelay.plugins import Registry, make_plugin_manager

PNG = "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()
JPG = "data:image/jpeg;base64," + base64.b64encode(sample_asset("sample.jpg")).decode()
STRICT = NormalizationPolicy.STRICT

#: Like a Runway model: two ratios and 2..10 s for text, six ratios for an image, 4/6/8 s with a last frame.
RUNWAY_LIKE = ModelSpec(
    name="runway-like",
    vendor="v",
    capabilities=Capabilities(image_to_video=True, end_frame=True),
    durations=tuple(range(2, 11)),
    default_duration=10,
    sizes=("1280:720", "720:1280"),
    default_size="1280:720",
    precedence=PrecedenceRules(image_roles=(ImageRole.FIRST_FRAME, ImageRole.LAST_FRAME)),
    inputs=(
        InputRules(
            InputKind.IMAGE,
            sizes=("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"),
            prompt_required=True,
        ),
        InputRules(InputKind.FIRST_LAST, durations=(4, 6, 8)),
    ),
    max_prompt_chars=1000,
    max_images=2,
)
#: Two 16:9 sizes of different pixels, written as ratios the vendor's way.
TWO_16_9 = ModelSpec(name="two", vendor="v", sizes=("1280:720", "1920:1080"), default_size="1280:720")


def _text(**fields):
    return normalize(UnifiedRequest(model="runway-like", prompt="a fox", **fields), RUNWAY_LIKE)


# ---------------------------------------------------------------- per kind of input


def test_image_input_sizes_differ_from_text_sizes():
    request = normalize(UnifiedRequest(model="m", prompt="a fox", image=PNG, size="960:960"), RUNWAY_LIKE)
    assert request.size == "960:960" and not request.adjustments
    snapped = _text(size="960:960")  # text-to-video has two ratios only: snapped to the nearest shape
    assert snapped.size in ("1280:720", "720:1280") and snapped.adjustments[0].field == "size"


def test_text_input_strict_refuses_a_size_only_image_input_offers():
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(UnifiedRequest(model="m", prompt="a fox", size="1:1"), RUNWAY_LIKE, STRICT)
    assert caught.value.allowed == ["1280:720", "720:1280"]


def test_first_last_durations_snap_and_inherit_image_sizes():
    request = normalize(
        UnifiedRequest(model="m", prompt="a fox", images=(PNG, JPG), duration=10, size="1584:672"), RUNWAY_LIKE
    )
    assert request.last_frame is not None
    assert request.duration == 8  # 4, 6, 8 with a last frame: the nearest
    assert request.size == "1584:672"  # the image rules' sizes, inherited


def test_first_last_strict_refuses_other_durations():
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(UnifiedRequest(model="m", prompt="a fox", images=(PNG, JPG), duration=10), RUNWAY_LIKE, STRICT)
    assert caught.value.allowed == [4, 6, 8]


def test_default_duration_outside_a_kind_is_snapped():
    request = normalize(UnifiedRequest(model="m", prompt="a fox", images=(PNG, JPG)), RUNWAY_LIKE)
    assert request.duration == 8 and not request.adjustments


def test_rules_for_falls_back_to_the_model():
    rules = RUNWAY_LIKE.rules_for(InputKind.TEXT)
    assert rules.durations == RUNWAY_LIKE.durations and rules.sizes == RUNWAY_LIKE.sizes
    assert rules.prompt_required is True
    first_last = RUNWAY_LIKE.rules_for(InputKind.FIRST_LAST)
    assert first_last.durations == (4, 6, 8) and first_last.sizes == RUNWAY_LIKE.rules_for(InputKind.IMAGE).sizes
    assert first_last.prompt_required is True


def test_default_size_outside_a_kind_is_the_closest_shape():
    model = ModelSpec(
        name="m",
        vendor="v",
        capabilities=Capabilities(image_to_video=True),
        sizes=("16:9", "9:16"),
        default_size="16:9",
        inputs=(InputRules(InputKind.IMAGE, sizes=("1:1", "21:9")),),
    )
    request = normalize(UnifiedRequest(model="m", prompt="a fox", image=PNG), model)
    assert request.size == "21:9" and not request.adjustments


# ---------------------------------------------------------------- ratios


@pytest.mark.parametrize(("text", "parsed"), [("1280:720", (1280, 720, False)), ("1584:672", (1584, 672, False))])
def test_ratio_with_any_number_of_digits(text, parsed):
    assert parse_size(text) == parsed


def test_ratio_with_a_zero_side_is_refused():
    with pytest.raises(InvalidRequest, match="zero side"):
        parse_size("1280:0")


@pytest.mark.parametrize("size", ["1280:720", "16:9", "1280x720", "32:18"])
def test_vendor_style_ratio_means_the_same_shape_in_strict_mode(size):
    model = ModelSpec(name="m", vendor="v", sizes=("16:9", "9:16"), default_size="16:9")
    assert normalize(UnifiedRequest(model="m", prompt="fox", size=size), model, STRICT).size == "16:9"


@pytest.mark.parametrize(("size", "effective"), [("1920x1080", "1920:1080"), ("1280x720", "1280:720")])
def test_pixel_size_picks_the_ratio_with_the_same_numbers(size, effective):
    assert normalize(UnifiedRequest(model="two", prompt="fox", size=size), TWO_16_9, STRICT).size == effective


def test_plain_ratio_on_a_vendor_ratio_model_in_strict_mode():
    assert _text(size="16:9").size == "1280:720"
    strict = normalize(UnifiedRequest(model="m", prompt="fox", size="9:16"), RUNWAY_LIKE, STRICT)
    assert strict.size == "720:1280"


# ---------------------------------------------------------------- prompt rules and bounds


def test_prompt_required_with_an_image_when_the_model_says_so():
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="m", image=PNG), RUNWAY_LIKE)
    assert caught.value.param == "prompt" and caught.value.code == "missing_prompt"
    optional = ModelSpec(name="o", vendor="v", capabilities=Capabilities(image_to_video=True))
    assert normalize(UnifiedRequest(model="o", image=PNG), optional).prompt is None


def test_prompt_past_the_longest_is_refused():
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="m", prompt="x" * 1001), RUNWAY_LIKE)
    assert caught.value.param == "prompt" and caught.value.code == "prompt_too_long"
    assert "1000" in caught.value.message
    assert normalize(UnifiedRequest(model="m", prompt="x" * 1000), RUNWAY_LIKE).prompt


def test_ten_thousand_images_are_refused_before_any_is_read():
    urls = tuple(f"not an image {index}" for index in range(10_000))  # parsing would fail on the first
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="m", prompt="a fox", images=urls), RUNWAY_LIKE)
    assert caught.value.param == "images" and caught.value.code == "too_many_images"
    assert "at most 2" in caught.value.message


@pytest.mark.parametrize(("most", "said"), [(1, "image"), (2, "images")])
def test_too_many_images_says_image_or_images(most, said):
    model = attrs.evolve(RUNWAY_LIKE, max_images=most)
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="m", prompt="a fox", images=(PNG, JPG, PNG + "x")), model)
    assert caught.value.code == "too_many_images"
    assert caught.value.message == f"runway-like takes at most {most} input {said}"
    assert model.describe_inputs()[-1] == f"limits: prompt at most 1000 characters, at most {most} {said}"


def test_too_many_reference_images_says_reference_image_for_one():
    caps = Capabilities(image_to_video=True, max_reference_images=1)
    model = ModelSpec(name="refs", vendor="v", capabilities=caps)
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="refs", prompt="a fox", images=(PNG, JPG, PNG + "x")), model)
    assert caught.value.code == "too_many_images"
    assert caught.value.message == "refs takes at most 2 input images (a first frame, 1 reference image); got 3"


def test_the_same_image_in_two_fields_counts_once():
    request = normalize(
        UnifiedRequest(model="m", prompt="a fox", image=PNG, input_reference=(PNG,), images=(PNG, JPG)), RUNWAY_LIKE
    )
    assert request.first_frame is not None and request.last_frame is not None


def test_reference_images_from_metadata_count_too():
    model = ModelSpec(
        name="m",
        vendor="v",
        capabilities=Capabilities(image_to_video=True, max_reference_images=3),
        precedence=PrecedenceRules(reference_image_sources=("metadata.refs",)),
        max_images=2,
    )
    with pytest.raises(InvalidRequest, match="at most 2"):
        refs = {"refs": [JPG, "https://x.test/a"]}
        normalize(UnifiedRequest(model="m", prompt="fox", image=PNG, metadata=refs), model)


# ---------------------------------------------------------------- reelay plugins


def test_reelay_plugins_shows_the_rules_per_input():
    lines = RUNWAY_LIKE.describe_inputs()
    sizes = "['1280:720', '720:1280', '1104:832', '960:960', '832:1104', '1584:672']"
    assert f"image input: sizes {sizes}, prompt required" in lines
    assert "first_last input: durations [4, 6, 8]" in lines
    assert "limits: prompt at most 1000 characters, at most 2 images" in lines


def test_describe_plugins_lists_inputs_for_every_model():
    pm = make_plugin_manager(load_entry_points=False, plugins=[acme])
    listing = describe_plugins(pm, Registry.collect(pm), [])
    for vendor in listing["vendors"]:
        for model in vendor["models"]:
            assert isinstance(model["inputs"], list)
