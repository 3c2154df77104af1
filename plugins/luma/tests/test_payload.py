"""The create body per model: ratios, durations as "5s"/"9s", keyframes, metadata."""

from __future__ import annotations

import pytest

from reelay import InvalidRequest, ValueNotAllowed
from reelay.testing import sample_image_data_uri

START = "https://cdn.example/start.jpg"
END = "https://cdn.example/end.jpg"


@pytest.mark.parametrize("model", ["ray-2", "ray-flash-2"])
def test_text_to_video(payload_for, model):
    body = payload_for(model, prompt="a fox in snow", size="9:16", seconds=9)
    assert body == {"model": model, "prompt": "a fox in snow", "aspect_ratio": "9:16", "duration": "9s"}


def test_defaults_are_16_9_and_5s(payload_for):
    assert payload_for("ray-2", prompt="a fox") == {
        "model": "ray-2", "prompt": "a fox", "aspect_ratio": "16:9", "duration": "5s",
    }  # fmt: skip


def test_pixel_size_maps_to_its_ratio_and_seconds_win(payload_for):
    body = payload_for("ray-2", prompt="a fox", size="1920x1080", seconds=9, duration=5)
    assert body["aspect_ratio"] == "16:9" and body["duration"] == "9s"


def test_snapped_values(payload_for):
    body = payload_for("ray-2", prompt="a fox", size="12:5", seconds=7)
    assert body["aspect_ratio"] == "21:9" and body["duration"] == "9s"


def test_start_and_end_keyframes(payload_for):
    body = payload_for("ray-2", prompt="morph", image=START, images=(END,))
    assert body["keyframes"] == {"frame0": {"type": "image", "url": START}, "frame1": {"type": "image", "url": END}}


def test_an_image_keyframe_makes_the_prompt_optional(payload_for):
    body = payload_for("ray-flash-2", image=START)
    assert "prompt" not in body and body["keyframes"] == {"frame0": {"type": "image", "url": START}}


def test_inline_images_are_refused(payload_for):
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2", prompt="go", image=sample_image_data_uri())
    assert caught.value.param == "image" and caught.value.code == "image_url_required"


@pytest.mark.parametrize(("prompt", "code"), [("hi", "prompt_too_short"), ("x" * 5001, "prompt_too_long")])
def test_prompt_length(payload_for, prompt, code):
    # past 5000 the core refuses (max_prompt_chars); under 3 the wire, which alone knows Luma's minimum
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2", prompt=prompt)
    assert (caught.value.param, caught.value.code) == ("prompt", code)


def test_text_to_video_needs_a_prompt_and_three_images_are_too_many(payload_for):
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2")
    assert (caught.value.param, caught.value.code) == ("prompt", "missing_prompt")
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2", prompt="a fox", image=START, images=[START + "?1", START + "?2"])
    assert (caught.value.param, caught.value.code) == ("images", "too_many_images")


def test_metadata_resolution_loop_concepts(payload_for):
    body = payload_for(
        "ray-2", prompt="a fox", metadata={"resolution": "1080p", "loop": True, "concepts": ["dolly_zoom"]}
    )
    assert body["resolution"] == "1080p" and body["loop"] is True and body["concepts"] == [{"key": "dolly_zoom"}]


def test_unknown_metadata_and_protected_fields_are_dropped(payload_for):
    body = payload_for("ray-2", prompt="a fox", metadata={"callback_url": "https://x", "model": "ray-1-6", "style": 1})
    assert body["model"] == "ray-2" and "callback_url" not in body and "style" not in body


def test_resolution_outside_the_list(payload_for):
    with pytest.raises(ValueNotAllowed) as caught:
        payload_for("ray-2", prompt="a fox", metadata={"resolution": "8k"})
    assert caught.value.param == "metadata.resolution" and caught.value.allowed == ["540p", "720p", "1080p", "4k"]


def test_loop_with_an_end_frame_is_refused(payload_for):
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2", prompt="a fox", image=START, images=(END,), metadata={"loop": True})
    assert caught.value.param == "metadata.loop"
    assert payload_for("ray-2", prompt="a fox", image=START, metadata={"loop": True})["loop"] is True


@pytest.mark.parametrize(("key", "value"), [("loop", "yes"), ("concepts", "dolly_zoom"), ("concepts", [{"name": "x"}])])
def test_malformed_metadata(payload_for, key, value):
    with pytest.raises(InvalidRequest) as caught:
        payload_for("ray-2", prompt="a fox", metadata={key: value})
    assert caught.value.param == f"metadata.{key}"
