"""Payload building and status/error mapping, against fixture files of every Veo state."""

from __future__ import annotations

import base64

import pytest

from reelay import (
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    NormalizationPolicy,
    TaskStatus,
    UnifiedRequest,
    UpstreamError,
)
from reelay.emulation import sample_asset
from reelay.normalize import normalize
from reelay_veo import wire
from reelay_veo.models import BY_NAME, ApiForm

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PNG_URI = f"data:image/png;base64,{PNG_B64}"
JPEG_URI = "data:image/jpeg;base64," + base64.b64encode(sample_asset("sample.jpg")).decode()


def build(unified: UnifiedRequest, api: ApiForm = ApiForm.GEMINI, model: str | None = None):
    spec = BY_NAME[model or unified.model]
    request = normalize(unified, spec.spec, NormalizationPolicy.SNAP)
    return request, wire.build_payload(request, spec, api, spec.spec.upstream)


# ---------------------------------------------------------------- precedence and payloads


def test_defaults_yield_8_seconds_16_9_720p():
    request, payload = build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a fox"))
    assert (request.duration, request.size) == (8, "1280x720")
    body = wire.request_body(payload)
    assert body == {
        "instances": [{"prompt": "a fox"}],
        "parameters": {"sampleCount": 1, "durationSeconds": 8, "aspectRatio": "16:9", "resolution": "720p"},
    }


@pytest.mark.parametrize(
    ("size", "aspect", "resolution"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("1080x1920", "9:16", "1080p"),
        ("3840x2160", "16:9", "4k"),
        ("2160x3840", "9:16", "4k"),
        ("16:9", "16:9", None),
        ("9:16", "9:16", None),
    ],
)
def test_size_maps_to_aspect_ratio_and_resolution(size, aspect, resolution):
    _, payload = build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a fox", size=size))
    assert payload.parameters["aspectRatio"] == aspect
    assert payload.parameters.get("resolution") == resolution


def test_1080p_and_4k_force_8_seconds():
    request, payload = build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", size="1920x1080", seconds=4))
    assert payload.parameters["durationSeconds"] == 8
    assert request.adjustments[0].field == "seconds"


def test_veo_2_sends_no_resolution_and_takes_5_to_8_seconds():
    request, payload = build(UnifiedRequest(model="veo-2.0-generate-001", prompt="a", size="720x1280", duration=5))
    assert payload.parameters == {"sampleCount": 1, "durationSeconds": 5, "aspectRatio": "9:16"}
    request, _ = build(UnifiedRequest(model="veo-2.0-generate-001", prompt="a", duration=10))
    assert request.duration == 8


def test_duration_precedence_duration_then_seconds_then_metadata():
    model = "veo-3.1-fast-generate-preview"
    request, _ = build(UnifiedRequest(model=model, prompt="a", duration=4, seconds=6, metadata={"durationSeconds": 8}))
    assert request.duration == 4
    request, _ = build(UnifiedRequest(model=model, prompt="a", seconds=6, metadata={"durationSeconds": 4}))
    assert request.duration == 6
    request, payload = build(UnifiedRequest(model=model, prompt="a", metadata={"durationSeconds": 4}))
    assert request.duration == 4 and "durationSeconds" not in request.extra
    assert payload.parameters["durationSeconds"] == 4


def test_images_become_first_and_last_frame():
    unified = UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", images=(PNG_URI, JPEG_URI))
    _, payload = build(unified)
    body = wire.request_body(payload)["instances"][0]
    assert body["image"] == {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}
    assert body["lastFrame"]["mimeType"] == "image/jpeg"
    assert "referenceImages" not in body


def test_reference_images_from_metadata_are_assets_and_force_8_seconds():
    unified = UnifiedRequest(
        model="veo-3.1-generate-preview", prompt="a", seconds=4, metadata={"referenceImages": [PNG_URI, PNG_URI]}
    )
    request, payload = build(unified)
    assert request.duration == 8
    references = wire.request_body(payload)["instances"][0]["referenceImages"]
    assert (
        references
        == [{"image": {"bytesBase64Encoded": PNG_B64, "mimeType": "image/png"}, "referenceType": "asset"}] * 2
    )


def test_reference_images_are_refused_where_the_model_has_none():
    unified = UnifiedRequest(model="veo-3.1-lite-generate-preview", prompt="a", metadata={"referenceImages": [PNG_URI]})
    with pytest.raises(InvalidRequest, match="at most"):
        build(unified)


def test_reference_images_need_a_prompt():
    spec = BY_NAME["veo-3.1-generate-preview"]
    request = GenerationRequest(model=spec.name, reference_images=(ImageInput(base64=PNG_B64, mime_type="image/png"),))
    with pytest.raises(InvalidRequest) as caught:
        wire.build_payload(request, spec, ApiForm.GEMINI, spec.spec.upstream)
    assert caught.value.param == "prompt"


@pytest.mark.parametrize("key", ["seed", "generateAudio", "storageUri", "compressionQuality", "resizeMode"])
def test_vertex_only_metadata_is_refused_on_gemini_naming_it(key):
    value = {"seed": 7, "generateAudio": False, "storageUri": "gs://b/p", "compressionQuality": "lossless"}.get(
        key, "crop"
    )
    unified = UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", metadata={key: value})
    with pytest.raises(InvalidRequest) as caught:
        build(unified, ApiForm.GEMINI)
    assert caught.value.param == f"metadata.{key}"
    assert key in caught.value.message and "Vertex" in caught.value.message
    _, payload = build(unified, ApiForm.VERTEX)
    assert payload.parameters[key] == value


def test_vertex_asks_for_audio_on_veo_3_unless_told_otherwise():
    _, payload = build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a"), ApiForm.VERTEX)
    assert payload.parameters["generateAudio"] is True
    unified = UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", metadata={"generateAudio": False})
    assert build(unified, ApiForm.VERTEX)[1].parameters["generateAudio"] is False
    _, payload = build(UnifiedRequest(model="veo-2.0-generate-001", prompt="a"), ApiForm.VERTEX)
    assert "generateAudio" not in payload.parameters


def test_common_metadata_passes_and_unknown_metadata_is_dropped():
    unified = UnifiedRequest(
        model="veo-3.1-generate-preview",
        prompt="a",
        metadata={"negativePrompt": "blur", "enhancePrompt": False, "personGeneration": "allow_adult", "colour": 1},
    )
    request, payload = build(unified)
    assert payload.parameters["negativePrompt"] == "blur"
    assert payload.parameters["enhancePrompt"] is False
    assert payload.parameters["personGeneration"] == "allow_adult"
    assert request.dropped_metadata == ("colour",)


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({"enhancePrompt": "yes"}, "metadata.enhancePrompt"),
        ({"seed": -1}, "metadata.seed"),
        ({"seed": True}, "metadata.seed"),
        ({"personGeneration": "everyone"}, "metadata.personGeneration"),
        ({"storageUri": "s3://bucket"}, "metadata.storageUri"),
        ({"negativePrompt": 3}, "metadata.negativePrompt"),
    ],
)
def test_metadata_of_the_wrong_type_is_refused(metadata, param):
    unified = UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", metadata=metadata)
    with pytest.raises(InvalidRequest) as caught:
        build(unified, ApiForm.VERTEX)
    assert caught.value.param == param


def test_images_veo_cannot_read_are_refused():
    # The core refuses them from the model's ImageRules, judged by the bytes (issue 14).
    gif = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    with pytest.raises(InvalidRequest, match="image/jpeg, image/png, image/webp") as caught:
        build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", image=gif))
    assert caught.value.code == "image_type_not_supported"
    png_as_gif = "data:image/gif;base64," + base64.b64encode(sample_asset("sample.png")).decode()
    _, payload = build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", image=png_as_gif))
    assert payload.first_frame.mime_type == "image/png"


def test_url_images_wait_for_submission():
    unified = UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", image="https://example.com/cat.png")
    _, payload = build(unified)
    assert payload.first_frame.url == "https://example.com/cat.png"
    with pytest.raises(ValueError, match="fetched"):
        wire.request_body(payload)


def test_vertex_only_models_are_marked_unavailable_on_gemini():
    _, payload = build(UnifiedRequest(model="veo-3.1-generate-001", prompt="a"), ApiForm.GEMINI)
    assert payload.unavailable and "vertex" in payload.unavailable
    _, payload = build(UnifiedRequest(model="veo-3.1-generate-001", prompt="a"), ApiForm.VERTEX)
    assert payload.unavailable is None


# ---------------------------------------------------------------- status mapping


@pytest.mark.parametrize(
    "state", ["gemini-submitted", "gemini-running", "gemini-running-done-false", "vertex-submitted", "vertex-running"]
)
def test_unfinished_operations_are_in_progress_without_progress(fixture, state):
    update = wire.map_status(fixture(state))
    assert update.status is TaskStatus.IN_PROGRESS and update.progress is None


def test_gemini_completion_is_the_file_uri(fixture):
    update = wire.map_status(fixture("gemini-completed"))
    assert update.status is TaskStatus.COMPLETED
    assert update.result.url.endswith("/v1beta/files/3xq8n1v0p2ls:download?alt=media")
    assert update.result.mime_type == "video/mp4"


@pytest.mark.parametrize("state", ["gemini-completed-inline", "vertex-completed-inline"])
def test_inline_results_are_decoded_bytes(fixture, state):
    update = wire.map_status(fixture(state))
    assert update.status is TaskStatus.COMPLETED
    assert update.result.data.startswith(b"\x00\x00\x00\x18ftypmp42")
    assert update.result.url is None and update.result.mime_type == "video/mp4"


def test_vertex_gcs_result_keeps_the_gs_uri(fixture):
    update = wire.map_status(fixture("vertex-completed-gcs"))
    assert update.result.url == "gs://demo-bucket/veo/1732540000/sample_0.mp4"


@pytest.mark.parametrize("state", ["gemini-filtered", "vertex-filtered"])
def test_filtered_without_samples_is_content_filtered(fixture, state):
    update = wire.map_status(fixture(state))
    assert update.status is TaskStatus.FAILED
    assert update.error.code == "content_filtered"
    assert "usage guidelines" in update.error.message and "58061214" in update.error.message


@pytest.mark.parametrize(("state", "code"), [("gemini-failed", "internal"), ("vertex-failed", "invalid_argument")])
def test_errors_keep_googles_code_and_message(fixture, state, code):
    update = wire.map_status(fixture(state))
    assert update.status is TaskStatus.FAILED
    assert update.error.code == code
    assert update.error.message == fixture(state)["error"]["message"]


def test_done_without_anything_is_a_failure(fixture):
    update = wire.map_status(fixture("gemini-empty"))
    assert update.status is TaskStatus.FAILED and update.error.code == "no_video"


@pytest.mark.parametrize("payload", [{"name": "x", "done": "yes", "error": "boom"}, "not json", None])
def test_malformed_operations_are_transient(fixture, payload):
    with pytest.raises(UpstreamError) as caught:
        wire.map_status(fixture("malformed") if payload == {"name": "x", "done": "yes", "error": "boom"} else payload)
    assert caught.value.kind is FailureKind.TRANSIENT


def test_several_samples_use_the_first():
    video = base64.b64encode(b"first").decode()
    payload = {
        "done": True,
        "response": {"videos": [{"bytesBase64Encoded": video}, {"bytesBase64Encoded": "c2Vjb25k"}]},
    }
    update = wire.map_status(payload)
    assert update.result.data == b"first" and update.result.extra == {"samples": 2}


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("state", "status", "kind", "code"),
    [
        ("error-invalid-argument", 400, FailureKind.CALLER, "invalid_request"),
        ("error-api-key-invalid", 400, FailureKind.CHANNEL, "channel_auth"),
        ("error-unauthenticated", 401, FailureKind.CHANNEL, "channel_auth"),
        ("error-permission-denied", 403, FailureKind.CHANNEL, "channel_auth"),
        ("error-not-found", 404, FailureKind.CALLER, "model_not_found"),
        ("error-resource-exhausted", 429, FailureKind.RATE_LIMITED, "rate_limited"),
        ("error-unavailable", 503, FailureKind.TRANSIENT, "upstream_unavailable"),
        ("error-internal", 500, FailureKind.TRANSIENT, "upstream_unavailable"),
        ("error-content-policy", 400, FailureKind.CONTENT_POLICY, "content_policy_violation"),
        ("error-failed-precondition", 400, FailureKind.CHANNEL, "channel_unavailable"),
    ],
)
def test_error_families(fixture, state, status, kind, code):
    error = wire.upstream_error(status, fixture(state), model="veo-3.0-fast-generate")
    assert (error.kind, error.code, error.http_status) == (kind, code, status)
    assert fixture(state)["error"]["message"] in error.message


def test_model_not_found_names_the_model(fixture):
    error = wire.upstream_error(404, fixture("error-not-found"), model="veo-9-imaginary")
    assert "'veo-9-imaginary'" in error.message


def test_a_404_while_polling_means_the_operation_is_gone(fixture):
    error = wire.upstream_error(404, fixture("error-not-found"), polling=True)
    assert error.kind is FailureKind.NOT_FOUND


def test_retry_after_is_kept(fixture):
    error = wire.upstream_error(429, fixture("error-resource-exhausted"), retry_after=7.0)
    assert error.retry_after == 7.0


def test_non_json_errors_still_map():
    error = wire.upstream_error(502, None)
    assert error.kind is FailureKind.TRANSIENT and "HTTP 502" in error.message


def test_veo_bounds_are_model_data():
    urls = tuple(f"https://example.com/{i}.png" for i in range(6))
    with pytest.raises(InvalidRequest) as caught:
        build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a", images=urls))
    assert caught.value.code == "too_many_images" and caught.value.param == "images"
    with pytest.raises(InvalidRequest) as caught:
        build(UnifiedRequest(model="veo-3.1-generate-preview", prompt="a" * 8193))
    assert caught.value.code == "prompt_too_long"
    assert BY_NAME["veo-3"].spec.image_rules.inline_urls


def test_every_operation_state_maps_through_its_table():
    from reelay.testing import check_status_table
    from reelay_veo import wire

    codes = {name: code for code, name in wire.RPC_CODES.items()}

    def payload_for(value):
        if value == "running":
            return {"name": "models/m/operations/1"}
        if value == "ok":
            return {"name": "models/m/operations/1", "done": True, "response": {"videos": [{"gcsUri": "gs://b/v"}]}}
        code = codes.get(value, 99)
        return {"name": "models/m/operations/1", "done": True, "error": {"code": code, "message": "stopped"}}

    check_status_table(wire.STATUSES, payload_for, wire.map_status)
    assert wire.map_status(payload_for("cancelled")).status is TaskStatus.CANCELLED
