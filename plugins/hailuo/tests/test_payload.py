"""build_payload per Hailuo mode: text, first frame, first and last frame, subject reference."""

from __future__ import annotations

import pytest

from reelay import Channel, InvalidRequest, NormalizationPolicy, UnifiedRequest, ValueNotAllowed
from reelay.normalize import normalize
from reelay.testing import png_data_uri, sample_image_data_uri
from reelay_hailuo.models import BY_NAME


def build(pm, channel, request):
    return pm.hook.reelay_build_payload(request=request, model=BY_NAME[request.model].spec, channel=channel)


def test_text_to_video_defaults(pm, channel, request_for):
    body = build(pm, channel, request_for("MiniMax-Hailuo-2.3", prompt="a fox"))
    assert body == {"model": "MiniMax-Hailuo-2.3", "prompt": "a fox", "duration": 6, "resolution": "768P"}


def test_a_pixel_size_picks_the_resolution(pm, channel, request_for):
    body = build(pm, channel, request_for("MiniMax-Hailuo-02", prompt="a fox", size="1920x1080", seconds="6"))
    assert body["resolution"] == "1080P" and body["duration"] == 6


def test_ten_seconds_is_snapped_to_six_at_1080p(pm, channel, request_for):
    request = request_for("MiniMax-Hailuo-02", prompt="a fox", size="1920x1080", duration=10)
    assert build(pm, channel, request)["duration"] == 6
    assert [a.field for a in request.adjustments] == ["duration"]


def test_duration_wins_over_seconds(pm, channel, request_for):
    assert build(pm, channel, request_for("MiniMax-Hailuo-02", prompt="x", duration=10, seconds="6"))["duration"] == 10


def test_first_frame_by_data_uri_and_by_url(pm, channel, request_for):
    inline = build(pm, channel, request_for("MiniMax-Hailuo-2.3-Fast", image=sample_image_data_uri()))
    assert inline["first_frame_image"].startswith("data:image/png;base64,")
    by_url = build(pm, channel, request_for("I2V-01", prompt="go", image="https://img.example/a.png"))
    assert by_url["first_frame_image"] == "https://img.example/a.png" and by_url["resolution"] == "720P"


def test_first_and_last_frame_on_02(pm, channel, request_for):
    body = build(
        pm, channel, request_for("MiniMax-Hailuo-02", images=("https://i.example/a.png", "https://i.example/b.png"))
    )
    assert (body["first_frame_image"], body["last_frame_image"]) == (
        "https://i.example/a.png",
        "https://i.example/b.png",
    )


def test_512p_is_for_02_first_frame_only(pm, channel, request_for):
    body = build(pm, channel, request_for("MiniMax-Hailuo-02", image="https://i.example/a.png", size="912x512"))
    assert body["resolution"] == "512P"
    # text and first-and-last take 768P/1080P only (the model's per-input rules): snapped, or refused when strict
    text = request_for("MiniMax-Hailuo-02", prompt="x", size="912x512")
    assert build(pm, channel, text)["resolution"] == "768P" and text.adjustments[0].field == "size"
    two = ("https://i.example/a", "https://i.example/b")
    spec = BY_NAME["MiniMax-Hailuo-02"].spec
    for fields in ({"prompt": "x"}, {"images": two}):
        with pytest.raises(ValueNotAllowed) as caught:
            normalize(UnifiedRequest(model=spec.name, size="912x512", **fields), spec, NormalizationPolicy.STRICT)
        assert (caught.value.code, caught.value.param) == ("value_not_allowed", "size")
        assert caught.value.allowed == ["1366x768", "1920x1080"]


def test_image_rules_are_the_cores(request_for):
    with pytest.raises(InvalidRequest) as caught:  # short side 300 px: Hailuo wants over 300
        request_for("I2V-01", prompt="go", image=png_data_uri(300, 400))
    assert (caught.value.code, caught.value.param) == ("image_dimensions", "image")
    with pytest.raises(InvalidRequest) as caught:  # 3:1 is wider than 5:2
        request_for("I2V-01", prompt="go", image=png_data_uri(960, 320))
    assert (caught.value.code, caught.value.param) == ("image_aspect_ratio", "image")
    with pytest.raises(InvalidRequest) as caught:
        request_for("I2V-01", prompt="go", image="data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    assert (caught.value.code, caught.value.param) == ("image_type_not_supported", "image")


def test_subject_reference(pm, channel, request_for):
    body = build(pm, channel, request_for("S2V-01", prompt="she walks", image="https://i.example/face.png"))
    assert body == {
        "model": "S2V-01",
        "prompt": "she walks",
        "subject_reference": [{"type": "character", "image": ["https://i.example/face.png"]}],
    }


def test_metadata_passes_and_is_checked(pm, channel, request_for):
    body = build(
        pm, channel, request_for("MiniMax-Hailuo-2.3", prompt="x", metadata={"prompt_optimizer": False, "x": 1})
    )
    assert body["prompt_optimizer"] is False and "x" not in body
    with pytest.raises(InvalidRequest) as caught:
        build(pm, channel, request_for("T2V-01", prompt="x", metadata={"fast_pretreatment": True}))
    assert caught.value.param == "metadata.fast_pretreatment"


def test_prompt_limit(pm, channel, request_for):
    with pytest.raises(InvalidRequest) as caught:
        build(pm, channel, request_for("T2V-01", prompt="x" * 2001))
    assert (caught.value.code, caught.value.param) == ("prompt_too_long", "prompt")  # the core, from max_prompt_chars


def test_strict_sizes_list_the_allowed_values(request_for):
    with pytest.raises(ValueNotAllowed) as caught:
        normalize(
            UnifiedRequest(model="T2V-01", prompt="x", duration=10), BY_NAME["T2V-01"].spec, NormalizationPolicy.STRICT
        )
    assert caught.value.allowed == [6]


def test_model_map(pm, request_for):
    mapped = Channel(name="m", vendor="hailuo", base_url="", model_map={"T2V-01": "T2V-01-Director"})
    assert build(pm, mapped, request_for("T2V-01", prompt="x"))["model"] == "T2V-01-Director"
