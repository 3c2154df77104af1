"""build_payload for text-to-video, first frame and first-and-last frame."""

from __future__ import annotations

import pytest

from reelay import InvalidRequest
from reelay.testing import sample_image_data_uri
from reelay_wan.models import BY_NAME


def payload(pm, channel, request):
    return pm.hook.reelay_build_payload(request=request, model=BY_NAME[request.model].spec, channel=channel)


def test_text_to_video_sends_a_literal_size(pm, channel, wan_request):
    body = payload(pm, channel, wan_request("wan2.6-t2v", prompt="a cat", size="720x1280", seconds="12"))
    assert body == {
        "model": "wan2.6-t2v",
        "input": {"prompt": "a cat"},
        "parameters": {"size": "720*1280", "duration": 12},
    }


def test_image_to_video_sends_a_resolution_and_the_image_as_given(pm, channel, wan_request):
    inline = payload(pm, channel, wan_request("wan2.5-i2v-preview", image=sample_image_data_uri(), size="832x480"))
    assert inline["input"]["img_url"].startswith("data:image/png;base64,")
    assert inline["parameters"] == {"resolution": "480P", "duration": 5}
    linked = payload(pm, channel, wan_request("wan2.2-i2v-plus", prompt="go", image="https://img.example/a.png"))
    assert linked["input"] == {"prompt": "go", "img_url": "https://img.example/a.png"}


def test_first_and_last_frame(pm, channel, wan_request):
    body = payload(pm, channel, wan_request("wan2.1-kf2v-plus", images=("https://i.example/a", "https://i.example/b")))
    assert body["input"] == {"first_frame_url": "https://i.example/a", "last_frame_url": "https://i.example/b"}


def test_metadata_goes_to_input_or_parameters(pm, channel, wan_request):
    metadata = {"negative_prompt": "blur", "prompt_extend": False, "seed": 7, "shot_type": "multi", "x": 1}
    body = payload(pm, channel, wan_request("wan2.6-t2v", prompt="a cat", metadata=metadata))
    assert body["input"] == {"prompt": "a cat", "negative_prompt": "blur"}
    assert (
        body["parameters"]["prompt_extend"] is False
        and body["parameters"]["seed"] == 7
        and "x" not in body["parameters"]
    )


@pytest.mark.parametrize(
    ("model", "metadata", "param"),
    [
        ("wan2.2-t2v-plus", {"audio_url": "https://a.example/a.mp3"}, "metadata.audio_url"),
        ("wan2.5-t2v-preview", {"shot_type": "multi"}, "metadata.shot_type"),
        ("wan2.6-t2v", {"seed": -1}, "metadata.seed"),
        ("wan2.6-t2v", {"watermark": 1}, "metadata.watermark"),
    ],
)
def test_metadata_refusals(pm, channel, wan_request, model, metadata, param):
    with pytest.raises(InvalidRequest) as caught:
        payload(pm, channel, wan_request(model, prompt="x", metadata=metadata))
    assert caught.value.param == param


def test_durations_snap_per_model(wan_request):
    assert wan_request("wan2.1-i2v-turbo", image="https://i.example/a", duration=4).duration == 4
    assert wan_request("wan2.2-t2v-plus", prompt="x", duration=9).duration == 5


@pytest.mark.parametrize(
    ("model", "limit"), [("wan2.6-t2v", 1500), ("wan2.2-t2v-plus", 800), ("wanx2.1-t2v-plus", 800)]
)
def test_a_prompt_wan_would_truncate_is_refused(wan_request, model, limit):
    wan_request(model, prompt="x" * limit)
    with pytest.raises(InvalidRequest) as caught:
        wan_request(model, prompt="x" * (limit + 1))
    assert (caught.value.code, caught.value.param) == ("prompt_too_long", "prompt")


def test_image_rules_are_the_cores(wan_request):
    with pytest.raises(InvalidRequest) as caught:
        wan_request("wan2.6-i2v", image="data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    assert (caught.value.code, caught.value.param) == ("image_type_not_supported", "image")
    two = ["https://img.example/a.png", "https://img.example/b.png"]
    with pytest.raises(InvalidRequest) as caught:
        wan_request("wan2.6-i2v", images=two)
    assert (caught.value.code, caught.value.param) == ("too_many_images", "images")
    assert BY_NAME["wan2.2-kf2v-flash"].spec.image_rules.max_bytes == 10 * 1024 * 1024
