"""reelay_build_payload: routing, precedence rules, images, metadata, refusals."""

from __future__ import annotations

import base64

import attrs
import pytest

from reelay import Channel, ImageInput, InvalidRequest, UnifiedRequest, ValueNotAllowed
from reelay.emulation import sample_asset
from reelay.normalize import normalize
from reelay_kling.models import BY_NAME
from reelay_kling.wire import Family, KlingPayload

PNG_B64 = base64.b64encode(sample_asset("sample.png")).decode()
URL_A = "https://images.test/a.png"
URL_B = "https://images.test/b.png"
URL_C = "https://images.test/c.png"


@pytest.fixture
def build(pm, channel, normalized):
    def run(model: str, *, on: Channel | None = None, **fields) -> KlingPayload:
        request = normalized(model, **fields)
        return pm.hook.reelay_build_payload(request=request, model=BY_NAME[model].spec, channel=on or channel)

    return run


def test_text_to_video_body(build):
    payload = build("kling-v1", prompt="a red fox in snow")
    assert payload.family is Family.TEXT2VIDEO
    assert payload.family.path == "/v1/videos/text2video"
    assert dict(payload.body) == {
        "model_name": "kling-v1",
        "prompt": "a red fox in snow",
        "duration": "5",
        "aspect_ratio": "16:9",
        "external_task_id": "video_test123",
    }


def test_image_to_video_body_has_no_aspect_ratio(build, normalized):
    payload = build("kling-v1-5", prompt="it moves", image=URL_A, size="1280x720", duration=10)
    assert payload.family is Family.IMAGE2VIDEO
    assert dict(payload.body) == {
        "model_name": "kling-v1-5",
        "prompt": "it moves",
        "duration": "10",
        "image": URL_A,
        "external_task_id": "video_test123",
    }
    request = normalized("kling-v1-5", image=URL_A, size="1280x720")
    assert request.size is None
    assert [a.field for a in request.adjustments] == ["size"]


def test_image_to_video_prompt_is_optional(build):
    payload = build("kling-v2-1", image=URL_A)
    assert "prompt" not in payload.body
    assert payload.body["image"] == URL_A


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({"duration": 10, "seconds": 5}, "10"),
        ({"duration": "5", "seconds": "10"}, "5"),
        ({"seconds": "10"}, "10"),
        ({"seconds": 10}, "10"),
        ({}, "5"),
        ({"duration": 7}, "5"),  # snapped by the core to the nearest allowed duration
        ({"seconds": "9"}, "10"),
    ],
)
def test_duration_wins_over_seconds_and_is_sent_as_string(build, fields, sent):
    assert build("kling-v1", prompt="p", **fields).body["duration"] == sent


def test_snapped_duration_is_reported(normalized):
    request = normalized("kling-v1", prompt="p", duration=7)
    assert request.duration == 5
    assert [(a.field, a.requested, a.effective) for a in request.adjustments] == [("duration", 7, 5)]


@pytest.mark.parametrize(
    ("size", "ratio"),
    [("1280x720", "16:9"), ("720x1280", "9:16"), ("1024x1024", "1:1"), ("9:16", "9:16"), ("1920x1080", "16:9")],
)
def test_size_maps_to_aspect_ratio(build, size, ratio):
    assert build("kling-v1-6", prompt="p", size=size).body["aspect_ratio"] == ratio


@pytest.mark.parametrize(
    ("fields", "image", "tail"),
    [
        ({"image": URL_A}, URL_A, None),
        ({"input_reference": (URL_B,)}, URL_B, None),
        ({"images": (URL_C,)}, URL_C, None),
        ({"image": URL_A, "input_reference": (URL_B,)}, URL_A, URL_B),
        ({"image": URL_A, "images": (URL_C,)}, URL_A, URL_C),
        ({"input_reference": (URL_B,), "images": (URL_C,)}, URL_B, URL_C),
        ({"images": (URL_C, URL_A)}, URL_C, URL_A),
        ({"image": URL_A, "images": (URL_A, URL_B)}, URL_A, URL_B),  # the same image twice is one image
    ],
)
def test_image_precedence_and_tail(build, fields, image, tail):
    body = build("kling-v1", prompt="p", **fields).body
    assert body["image"] == image
    assert body.get("image_tail") == tail
    assert "aspect_ratio" not in body


def test_uploaded_file_is_a_start_frame(pm, channel):
    unified = UnifiedRequest(model="kling-v1", prompt="p", uploads=(ImageInput(base64=PNG_B64, mime_type="image/png"),))
    request = normalize(unified, BY_NAME["kling-v1"].spec, public_id="video_up")
    payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME["kling-v1"].spec, channel=channel)
    assert payload.body["image"] == PNG_B64


def test_three_images_are_too_many(normalized):
    with pytest.raises(InvalidRequest) as caught:
        normalized("kling-v1", image=URL_A, images=(URL_B, URL_C))
    assert caught.value.param == "images"


def test_no_tail_frame_on_models_without_end_frames(normalized):
    assert BY_NAME["kling-v2-master"].spec.capabilities.end_frame is False
    with pytest.raises(InvalidRequest) as caught:
        normalized("kling-v2-master", image=URL_A, images=(URL_B,))
    assert caught.value.param == "images"


def test_data_uri_is_stripped_to_raw_base64(build):
    body = build("kling-v1", image=f"data:image/png;base64,{PNG_B64}", images=(PNG_B64,)).body
    assert body["image"] == PNG_B64
    assert body["image_tail"] == PNG_B64  # raw base64 passes as it is


def test_data_uri_in_an_image_url_field_is_stripped(pm, channel):
    # Defensive: an ImageInput built by hand with a data: URI as its url.
    plain = normalize(UnifiedRequest(model="kling-v1", prompt="p"), BY_NAME["kling-v1"].spec, public_id="video_x")
    request = attrs.evolve(plain, first_frame=ImageInput(url=f"data:image/png;base64,{PNG_B64}"))
    payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME["kling-v1"].spec, channel=channel)
    assert payload.body["image"] == PNG_B64


def test_text_to_video_on_image_only_model_is_refused(normalized):
    for model in ("kling-v1-5", "kling-v2-1"):
        with pytest.raises(InvalidRequest) as caught:
            normalized(model, prompt="p")
        assert caught.value.param == "image"


def test_text_to_video_models_match_kling_enum():
    t2v = {name for name, m in BY_NAME.items() if m.spec.capabilities.text_to_video}
    assert {"kling-v1", "kling-v1-6", "kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo"} <= t2v
    assert not t2v & {"kling-v1-5", "kling-v2-1"}
    assert all(m.spec.capabilities.image_to_video for m in BY_NAME.values())
    assert all(m.spec.durations == (5, 10) for m in BY_NAME.values())


# ---------------------------------------------------------------- metadata


def test_documented_metadata_passes_through(build, normalized):
    metadata = {
        "negative_prompt": "blur",
        "cfg_scale": 0.3,
        "mode": "pro",
        "camera_control": {"type": "simple", "config": {"zoom": 5}},
        "callback_url": "https://hooks.test/kling",
        "style": "anime",
    }
    body = build("kling-v1", prompt="p", metadata=metadata).body
    for key in ("negative_prompt", "cfg_scale", "mode", "camera_control", "callback_url"):
        assert body[key] == metadata[key]
    assert "style" not in body
    assert normalized("kling-v1", prompt="p", metadata=metadata).dropped_metadata == ("style",)


def test_metadata_never_overrides_protected_fields(build, normalized):
    metadata = {"model_name": "kling-v2-master", "model": "kling-v2-master", "external_task_id": "mine"}
    body = build("kling-v1", prompt="p", metadata=metadata).body
    assert body["model_name"] == "kling-v1"
    assert "model" not in body
    assert body["external_task_id"] == "video_test123"
    assert set(normalized("kling-v1", prompt="p", metadata=metadata).dropped_metadata) == set(metadata)


def test_channel_model_map_renames_upstream_model(build):
    renamed = Channel(
        name="k", vendor="kling", base_url="https://k.test", model_map={"kling-v1": "kling-v1-6"}, credentials={}
    )
    assert build("kling-v1", on=renamed, prompt="p").body["model_name"] == "kling-v1-6"


@pytest.mark.parametrize("model", ["kling-v2-master", "kling-v2-1-master", "kling-v2-5-turbo", "kling-v2-6"])
def test_cfg_scale_on_v2_is_refused(build, model):
    with pytest.raises(InvalidRequest) as caught:
        build(model, prompt="p", metadata={"cfg_scale": 0.5})
    assert caught.value.param == "metadata.cfg_scale"
    assert caught.value.status == 400
    assert "kling-v1, kling-v1-5, kling-v1-6" in caught.value.message


@pytest.mark.parametrize("value", [1.5, -0.1, "0.5", True])
def test_cfg_scale_out_of_range(build, value):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", prompt="p", metadata={"cfg_scale": value})
    assert caught.value.param == "metadata.cfg_scale"


def test_invalid_mode_names_allowed_values(build):
    with pytest.raises(ValueNotAllowed) as caught:
        build("kling-v1", prompt="p", metadata={"mode": "ultra"})
    assert caught.value.param == "metadata.mode"
    assert caught.value.allowed == ["std", "pro"]
    assert "std, pro" in caught.value.message


def test_sound_only_where_supported(build):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", prompt="p", metadata={"sound": "on"})
    assert caught.value.param == "metadata.sound"
    with pytest.raises(InvalidRequest):
        build("kling-v2-6", prompt="p", metadata={"sound": "on"})  # std mode has no sound
    with pytest.raises(ValueNotAllowed):
        build("kling-v2-6", prompt="p", metadata={"sound": "loud", "mode": "pro"})
    body = build("kling-v2-6", prompt="p", metadata={"sound": "on", "mode": "pro"}).body
    assert (body["sound"], body["mode"]) == ("on", "pro")


def test_motion_brush_is_image_to_video_only(build):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", prompt="p", metadata={"static_mask": URL_A})
    assert caught.value.param == "metadata.static_mask"


def test_motion_brush_masks_lose_data_prefix(build):
    metadata = {
        "static_mask": f"data:image/png;base64,{PNG_B64}",
        "dynamic_masks": [{"mask": f"data:image/png;base64,{PNG_B64}", "trajectories": [{"x": 1, "y": 2}]}],
    }
    body = build("kling-v1", image=URL_A, metadata=metadata).body
    assert body["static_mask"] == PNG_B64
    assert body["dynamic_masks"] == [{"mask": PNG_B64, "trajectories": [{"x": 1, "y": 2}]}]


def test_end_frame_and_camera_control_exclude_each_other(build):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", image=URL_A, images=(URL_B,), metadata={"camera_control": {"type": "down_back"}})
    assert caught.value.param == "metadata.camera_control"


@pytest.mark.parametrize(
    "camera",
    [
        {"type": "orbit"},
        {"type": "simple"},
        {"type": "simple", "config": {"zoom": 5, "pan": 1}},
        {"type": "simple", "config": {"zoom": 11}},
        {"type": "down_back", "config": {"zoom": 1}},
        "down_back",
    ],
)
def test_bad_camera_control(build, camera):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", prompt="p", metadata={"camera_control": camera})
    assert caught.value.param.startswith("metadata.camera_control")


def test_prompt_length_limit(build):
    with pytest.raises(InvalidRequest) as caught:
        build("kling-v1", prompt="x" * 2501)
    assert caught.value.param == "prompt"


def test_other_vendors_are_not_answered(pm, normalized):
    other = Channel(name="o", vendor="sora", base_url="https://o.test")
    request = normalized("kling-v1", prompt="p")
    assert pm.hook.reelay_build_payload(request=request, model=BY_NAME["kling-v1"].spec, channel=other) is None


def test_payload_repr_hides_body(build):
    assert PNG_B64 not in repr(build("kling-v1", image=PNG_B64))


# ---------------------------------------------------------------- bounds and image rules, as model data


def test_kling_bounds_are_model_data():
    spec = BY_NAME["kling-v1"].spec
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="kling-v1", prompt="x" * 2501), spec)
    assert caught.value.param == "prompt" and caught.value.code == "prompt_too_long"
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="kling-v1", prompt="fox", images=(URL_A, URL_B, URL_C)), spec)
    assert caught.value.param == "images" and caught.value.code == "too_many_images"


def test_kling_refuses_small_and_webp_images_by_their_bytes():
    spec = BY_NAME["kling-v1"].spec
    small = "data:image/png;base64," + base64.b64encode(sample_asset("sample.jpg")).decode()  # a 160x90 JPEG
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="kling-v1", prompt="fox", image=small), spec)
    assert caught.value.code == "image_dimensions"
    webp = "data:image/png;base64," + base64.b64encode(sample_asset("sample.webp")).decode()
    with pytest.raises(InvalidRequest) as caught:
        normalize(UnifiedRequest(model="kling-v1", prompt="fox", image=webp), spec)
    assert caught.value.code == "image_type_not_supported"


def test_kling_end_frame_requests_are_five_seconds():
    spec = BY_NAME["kling-v1"].spec
    request = normalize(UnifiedRequest(model="kling-v1", images=(URL_A, URL_B), duration=10), spec)
    assert request.last_frame is not None and request.duration == 5
    assert normalize(UnifiedRequest(model="kling-v1", image=URL_A, duration=10), spec).duration == 10
