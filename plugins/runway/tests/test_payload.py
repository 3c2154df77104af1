"""build_payload per model: endpoints, ratios, durations, frames, metadata."""

from __future__ import annotations

import pytest

from reelay import InvalidRequest, NormalizationPolicy, UnifiedRequest, ValueNotAllowed
from reelay.normalize import normalize
from reelay.testing import sample_image_data_uri
from reelay_runway.models import BY_NAME, Endpoint

IMAGE = "https://images.example/first.png"
LAST = "https://images.example/last.png"


@pytest.fixture
def build(pm, channel, normalized):
    def run(model: str, **fields):
        request = normalized(model, **fields)
        return pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=channel)

    return run


def test_gen45_text_to_video(build):
    payload = build("gen4.5", prompt="a fox", size="720x1280", seconds=7)
    assert payload.endpoint is Endpoint.TEXT_TO_VIDEO
    assert payload.body == {"model": "gen4.5", "promptText": "a fox", "ratio": "720:1280", "duration": 7}


def test_a_ratio_names_the_same_size(build):
    assert build("gen4.5", prompt="a fox", size="16:9").body["ratio"] == "1280:720"


def test_gen45_text_to_video_takes_two_ratios_only(build):
    # the core applies the per-input ratios: snapped by default, refused in strict mode
    assert build("gen4.5", prompt="a fox", size="960x960").body["ratio"] in ("1280:720", "720:1280")
    spec = BY_NAME["gen4.5"].spec
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(UnifiedRequest(model="gen4.5", prompt="a fox", size="960x960"), spec, NormalizationPolicy.STRICT)
    assert caught.value.param == "size" and caught.value.allowed == ["1280:720", "720:1280"]


def test_gen45_image_to_video_takes_six_ratios(build):
    payload = build("gen4.5", prompt="go", image=IMAGE, size="1584x672", duration=10)
    assert payload.endpoint is Endpoint.IMAGE_TO_VIDEO
    assert payload.body == {
        "model": "gen4.5",
        "promptText": "go",
        "ratio": "1584:672",
        "duration": 10,
        "promptImage": IMAGE,
    }


def test_gen45_image_to_video_needs_a_prompt(build):
    with pytest.raises(InvalidRequest) as caught:
        build("gen4.5", image=IMAGE)
    assert caught.value.param == "prompt"


def test_gen4_turbo_is_image_only_and_prompt_optional(build):
    payload = build("gen4_turbo", image=IMAGE, size="1:1")
    assert payload.body == {"model": "gen4_turbo", "ratio": "960:960", "duration": 5, "promptImage": IMAGE}
    with pytest.raises(InvalidRequest):
        build("gen4_turbo", prompt="no image")


def test_gen4_turbo_snaps_a_second_image_into_a_refusal(build):
    with pytest.raises(InvalidRequest) as caught:
        build("gen4_turbo", image=IMAGE, images=(LAST,))
    assert caught.value.param == "images"


@pytest.mark.parametrize("model", ["veo3.1", "veo3.1_fast"])
def test_veo_first_and_last_frame(build, model):
    payload = build(model, prompt="dusk", image=IMAGE, images=(LAST,), size="1920x1080", seconds=6)
    assert payload.body == {
        "model": model,
        "promptText": "dusk",
        "ratio": "1920:1080",
        "duration": 6,
        "promptImage": [{"uri": IMAGE, "position": "first"}, {"uri": LAST, "position": "last"}],
    }


@pytest.mark.parametrize("model", ["veo3.1", "veo3.1_fast"])
def test_veo_text_to_video_defaults(build, model):
    assert build(model, prompt="dusk").body == {
        "model": model,
        "promptText": "dusk",
        "ratio": "1280:720",
        "duration": 8,
    }


def test_veo_durations_snap_or_refuse(normalized):
    assert normalized("veo3.1", prompt="x", seconds=5).duration == 6  # ties go to the longer
    with pytest.raises(ValueNotAllowed):
        normalize(
            UnifiedRequest(model="veo3.1", prompt="x", seconds=5), BY_NAME["veo3.1"].spec, NormalizationPolicy.STRICT
        )


def test_metadata_passes_runway_fields(build):
    body = build("gen4.5", prompt="x", metadata={"seed": 7, "contentModeration": {"publicFigureThreshold": "low"}}).body
    assert body["seed"] == 7 and body["contentModeration"] == {"publicFigureThreshold": "low"}
    body = build("veo3.1", prompt="x", image=IMAGE, metadata={"audio": False, "negativePrompt": "rain"}).body
    assert body["audio"] is False and body["negativePrompt"] == "rain"


def test_unknown_metadata_is_dropped_and_model_is_protected(normalized):
    request = normalized("gen4.5", prompt="x", metadata={"watermark": True, "model": "gen3a_turbo"})
    assert request.extra == {} and set(request.dropped_metadata) == {"watermark", "model"}


@pytest.mark.parametrize(
    ("model", "metadata", "param"),
    [
        ("veo3.1", {"negativePrompt": "rain"}, "metadata.negativePrompt"),  # text_to_video has none
        ("gen4.5", {"seed": -1}, "metadata.seed"),
        ("gen4.5", {"seed": True}, "metadata.seed"),
        ("veo3.1", {"audio": "yes"}, "metadata.audio"),
        (
            "gen4.5",
            {"contentModeration": {"publicFigureThreshold": "off"}},
            "metadata.contentModeration.publicFigureThreshold",
        ),
    ],
)
def test_bad_metadata_is_refused_by_name(build, model, metadata, param):
    with pytest.raises(InvalidRequest) as caught:
        build(model, prompt="x", metadata=metadata)
    assert caught.value.param == param


def test_prompt_length_counts_utf16_units(build):
    build("gen4.5", prompt="a" * 1000)
    with pytest.raises(InvalidRequest) as caught:  # 1001 characters: the core's max_prompt_chars
        build("gen4.5", prompt="a" * 1001)
    assert (caught.value.code, caught.value.param) == ("prompt_too_long", "prompt")
    with pytest.raises(InvalidRequest) as caught:  # 501 characters, but 1002 UTF-16 code units: the wire's check
        build("gen4.5", prompt="\U0001f98a" * 501)
    assert (caught.value.code, caught.value.param) == ("prompt_too_long", "prompt")


def test_inline_image_is_a_data_uri(build):
    payload = build("gen4.5", prompt="go", image=sample_image_data_uri())
    assert payload.body["promptImage"].startswith("data:image/png;base64,")


@pytest.mark.parametrize(
    "url", ["http://images.example/a.png", "https://203.0.113.7/a.png", "https://images.example/" + "a" * 2048]
)
def test_image_urls_runway_refuses(build, url):
    with pytest.raises(InvalidRequest) as caught:
        build("gen4.5", prompt="go", image=url)
    assert (caught.value.code, caught.value.param) == ("image_url_not_supported", "image")


def test_a_large_inline_image_is_refused(build):
    big = "data:image/png;base64," + "iVBORw0KGgo" + "A" * (5 * 1024 * 1024)
    with pytest.raises(InvalidRequest) as caught:
        build("gen4.5", prompt="go", image=big)
    assert (caught.value.code, caught.value.param) == ("image_too_large", "image")


def test_an_image_type_runway_refuses(build):
    gif = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    with pytest.raises(InvalidRequest) as caught:
        build("gen4.5", prompt="go", image=gif)
    assert (caught.value.code, caught.value.param) == ("image_type_not_supported", "image")
