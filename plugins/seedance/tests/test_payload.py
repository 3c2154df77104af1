"""build_payload: the create body per model, the precedence rules applied, refusals before sending."""

from __future__ import annotations

import base64

import pytest

from reelay import Channel, InvalidRequest
from reelay.testing import sample_image_data_uri
from reelay_seedance.models import BY_NAME

PRO = "doubao-seedance-1-0-pro-250528"


def build(pm, channel, request):
    return pm.hook.reelay_build_payload(request=request, model=BY_NAME[request.model].spec, channel=channel)


def test_text_to_video(pm, channel, normalized):
    body = build(pm, channel, normalized(PRO, prompt="a fox", duration=7, size="1280x720"))
    assert body == {
        "model": PRO,
        "content": [{"type": "text", "text": "a fox"}],
        "resolution": "1080p",
        "ratio": "16:9",
        "duration": 7,
    }


def test_duration_wins_over_seconds(pm, channel, normalized):
    assert build(pm, channel, normalized(PRO, prompt="a fox", duration=3, seconds="9"))["duration"] == 3


def test_no_size_lets_the_model_choose(pm, channel, normalized):
    assert "ratio" not in build(pm, channel, normalized(PRO, prompt="a fox"))


def test_first_frame_from_a_data_uri_keeps_the_data_uri(pm, channel, normalized):
    body = build(pm, channel, normalized(PRO, prompt="move", image=sample_image_data_uri()))
    (image,) = [item for item in body["content"] if item["type"] == "image_url"]
    assert image["role"] == "first_frame" and image["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


def test_an_https_url_is_passed_through(pm, channel, normalized):
    body = build(pm, channel, normalized(PRO, prompt="move", image="https://img.example/a.png"))
    assert body["content"][1]["image_url"] == {"url": "https://img.example/a.png"}


def test_first_and_last_frames(pm, channel, normalized):
    request = normalized(PRO, prompt="move", images=("https://img.example/a.png", "https://img.example/b.png"))
    roles = [item.get("role") for item in build(pm, channel, request)["content"]]
    assert roles == [None, "first_frame", "last_frame"]


def test_reference_images_from_metadata(pm, channel, normalized):
    model = "doubao-seedance-2-0-260128"
    refs = ["https://img.example/1.png", sample_image_data_uri()]
    body = build(pm, channel, normalized(model, prompt="these two", metadata={"reference_images": refs}))
    assert [item.get("role") for item in body["content"]] == [None, "reference_image", "reference_image"]


def test_frames_and_references_do_not_mix(pm, channel, normalized):
    request = normalized(
        "doubao-seedance-2-0-260128",
        prompt="x",
        image="https://img.example/a.png",
        metadata={"reference_images": ["https://img.example/1.png"]},
    )
    with pytest.raises(InvalidRequest) as caught:
        build(pm, channel, request)
    assert caught.value.param == "metadata.reference_images"


def test_resolution_from_metadata_is_checked(pm, channel, normalized):
    body = build(pm, channel, normalized("doubao-seedance-2-0-260128", prompt="x", metadata={"resolution": "4K"}))
    assert body["resolution"] == "4k"
    with pytest.raises(InvalidRequest) as caught:
        build(pm, channel, normalized("doubao-seedance-2-0-fast-260128", prompt="x", metadata={"resolution": "1080p"}))
    assert caught.value.param == "metadata.resolution" and "480p, 720p" in caught.value.message


def test_seedance_2_5_image_to_video_is_adaptive(pm, channel, normalized):
    request = normalized("doubao-seedance-2-5-260628", prompt="x", image="https://img.example/a.png", size="1:1")
    assert build(pm, channel, request)["ratio"] == "adaptive"


@pytest.mark.parametrize(
    ("model", "metadata", "param"),
    [
        (PRO, {"generate_audio": True}, "metadata.generate_audio"),
        ("doubao-seedance-2-0-260128", {"seed": 3}, "metadata.seed"),
        (PRO, {"seed": -2}, "metadata.seed"),
        ("doubao-seedance-2-0-260128", {"service_tier": "flex"}, "metadata.service_tier"),
        (PRO, {"execution_expires_after": 60}, "metadata.execution_expires_after"),
        (PRO, {"watermark": "yes"}, "metadata.watermark"),
        (PRO, {"callback_url": "ftp://x"}, "metadata.callback_url"),
    ],
)
def test_metadata_refusals(pm, channel, normalized, model, metadata, param):
    with pytest.raises(InvalidRequest) as caught:
        build(pm, channel, normalized(model, prompt="x", metadata=metadata))
    assert caught.value.param == param


def test_known_metadata_passes_and_unknown_is_dropped(pm, channel, normalized):
    request = normalized(PRO, prompt="x", metadata={"seed": 7, "watermark": True, "style": "noir", "model": "other"})
    body = build(pm, channel, request)
    assert body["seed"] == 7 and body["watermark"] is True and body["model"] == PRO and "style" not in body
    assert set(request.dropped_metadata) >= {"style"}


def test_model_map_names_the_upstream_model(pm, normalized):
    mapped = Channel(name="m", vendor="seedance", base_url="", model_map={PRO: "ep-20250101-abcde"})
    assert build(pm, mapped, normalized(PRO, prompt="x"))["model"] == "ep-20250101-abcde"


def test_image_count_and_types_are_the_cores(normalized):
    three = ["https://img.example/1.png", "https://img.example/2.png", "https://img.example/3.png"]
    with pytest.raises(InvalidRequest) as caught:  # 1.0 pro: a first and a last frame at most
        normalized(PRO, prompt="x", images=three)
    assert (caught.value.code, caught.value.param) == ("too_many_images", "images")
    not_an_image = "data:image/png;base64," + base64.b64encode(b"plain text, not pixels").decode()
    with pytest.raises(InvalidRequest) as caught:
        normalized(PRO, prompt="x", image=not_an_image)
    assert (caught.value.code, caught.value.param) == ("image_type_not_supported", "image")
    assert "image/heic" not in BY_NAME[PRO].spec.image_rules.types
    assert "image/heic" in BY_NAME["doubao-seedance-1-5-pro-251215"].spec.image_rules.types
