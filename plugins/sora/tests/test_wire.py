"""Payload building, status mapping against fixtures, and the error families."""

from __future__ import annotations

import attrs
import pytest

from reelay import (
    FailureKind,
    GenerationRequest,
    ImageInput,
    InvalidRequest,
    StatusUpdate,
    TaskError,
    TaskStatus,
    UpstreamError,
    ValueNotAllowed,
    VideoResult,
)
from reelay.upstream import JsonResponse
from reelay_sora import wire
from reelay_sora.models import MODELS

SORA_2, SORA_2_PRO = MODELS
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="


def _request(**values) -> GenerationRequest:
    values.setdefault("model", "sora-2")
    values.setdefault("prompt", "a cat")
    values.setdefault("duration", 8)
    values.setdefault("size", "1280x720")
    return GenerationRequest(**values)


# ---------------------------------------------------------------- payloads


def test_text_to_video_is_json_with_seconds_as_a_string(channel):
    payload = wire.build_payload(_request(), SORA_2, channel)
    assert not payload.is_multipart
    assert wire.payload_json(payload) == {"prompt": "a cat", "model": "sora-2", "seconds": "8", "size": "1280x720"}


def test_an_image_url_is_sent_as_input_reference_image_url(channel):
    image = ImageInput(url="https://img.example/frame.png")
    body = wire.payload_json(wire.build_payload(_request(first_frame=image), SORA_2, channel))
    assert body["input_reference"] == {"image_url": "https://img.example/frame.png"}


def test_inline_base64_is_sent_as_a_data_url(channel):
    image = ImageInput(base64=PNG_B64, mime_type="image/png")
    body = wire.payload_json(wire.build_payload(_request(first_frame=image), SORA_2, channel))
    assert body["input_reference"] == {"image_url": f"data:image/png;base64,{PNG_B64}"}


def test_an_uploaded_file_makes_the_request_multipart(channel):
    image = ImageInput(base64=PNG_B64, mime_type="image/png", filename="frame.png")
    payload = wire.build_payload(_request(first_frame=image), SORA_2, channel)
    assert payload.is_multipart and payload.upload is image and payload.input_reference is None
    assert wire.payload_form_fields(payload) == {
        "prompt": "a cat",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }


def test_the_channel_model_map_renames_the_upstream_model(channel):
    channel = attrs.evolve(channel, model_map={"sora-2": "sora-2-2025-10-06"})
    assert wire.build_payload(_request(), SORA_2, channel).model == "sora-2-2025-10-06"


def test_a_dated_snapshot_the_caller_asked_for_is_sent_as_is(channel):
    payload = wire.build_payload(_request(requested_model="sora-2-2025-12-08"), SORA_2, channel)
    assert payload.model == "sora-2-2025-12-08"
    assert wire.build_payload(_request(requested_model="sora-2"), SORA_2, channel).model == "sora-2"


def test_defaults_left_to_the_vendor_are_omitted(channel):
    body = wire.payload_json(wire.build_payload(_request(duration=None, size=None), SORA_2, channel))
    assert body == {"prompt": "a cat", "model": "sora-2"}


def test_metadata_the_core_let_through_is_added(channel):
    body = wire.payload_json(wire.build_payload(_request(extra={"future_field": 1}), SORA_2, channel))
    assert body["future_field"] == 1


def test_a_prompt_is_required_also_for_image_to_video(channel):
    request = _request(prompt=None, first_frame=ImageInput(url="https://img.example/frame.png"))
    with pytest.raises(InvalidRequest) as raised:
        wire.build_payload(request, SORA_2, channel)
    assert raised.value.param == "prompt"


def test_values_the_model_lacks_are_refused_before_sending(channel):
    with pytest.raises(ValueNotAllowed) as raised:
        wire.build_payload(_request(size="1792x1024"), SORA_2, channel)
    assert raised.value.param == "size"
    assert wire.build_payload(_request(size="1792x1024"), SORA_2_PRO, channel).size == "1792x1024"
    with pytest.raises(ValueNotAllowed) as raised:
        wire.build_payload(_request(duration=5), SORA_2, channel)
    assert raised.value.param == "seconds" and raised.value.allowed == [4, 8, 12]


def test_more_than_a_first_frame_is_refused(channel):
    image = ImageInput(url="https://img.example/frame.png")
    with pytest.raises(InvalidRequest):
        wire.build_payload(_request(first_frame=image, last_frame=image), SORA_2, channel)


def test_unsupported_image_types_are_refused(channel):
    image = ImageInput(base64="R0lGODlhAQABAAAAACw=", mime_type="image/gif")
    with pytest.raises(InvalidRequest) as raised:
        wire.build_payload(_request(first_frame=image), SORA_2, channel)
    assert raised.value.param == "input_reference"


# ---------------------------------------------------------------- statuses


def test_queued(fixture):
    assert wire.map_status(fixture("sora-queued")) == StatusUpdate(TaskStatus.QUEUED, progress=0)


def test_in_progress_keeps_the_vendors_progress(fixture):
    assert wire.map_status(fixture("sora-in_progress")) == StatusUpdate(TaskStatus.IN_PROGRESS, progress=33)


def test_completed_has_no_url_and_records_the_expiry(fixture):
    update = wire.map_status(fixture("sora-completed"))
    assert update.status is TaskStatus.COMPLETED and update.progress == 100
    assert update.result == VideoResult(url=None, duration=8.0, extra={"expires_at": 1758945190})


def test_a_moderation_failure_is_content_policy_keeping_the_vendors_code(fixture):
    update = wire.map_status(fixture("sora-failed"))
    assert update == StatusUpdate(
        TaskStatus.FAILED,
        error=TaskError(
            "content_policy_violation",
            "Your request was blocked by our moderation system. (sora code: moderation_blocked)",
        ),
    )


def test_other_failures_keep_the_vendors_code_and_message(fixture):
    body = fixture("sora-failed") | {"error": {"code": "internal_error", "message": "Something broke."}}
    assert wire.map_status(body).error == TaskError("internal_error", "Something broke.")


def test_failed_without_an_error_object(fixture):
    body = fixture("sora-failed") | {"error": None}
    assert wire.map_status(body).error == TaskError("generation_failed", "the video failed")


@pytest.mark.parametrize("body", [None, [], {"status": "queued"}, {"id": "video_1", "status": "exploded"}])
def test_unreadable_answers_are_transient(body):
    with pytest.raises(UpstreamError) as raised:
        wire.map_status(body)
    assert raised.value.kind is FailureKind.TRANSIENT


# ---------------------------------------------------------------- errors


def _error(status: int, code: str | None = None, message: str = "bad", type: str = "invalid_request_error", **kw):
    body = {"error": {"message": message, "type": type, "param": kw.pop("param", None), "code": code}}
    return wire.upstream_error(JsonResponse(status, body, kw.pop("headers", {})), action="create a video", **kw)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_the_callers_fault_carries_openais_message(fixture, status):
    body = fixture("sora-error-400")
    error = wire.upstream_error(JsonResponse(status, body), action="create a video")
    assert error.kind is FailureKind.CALLER
    assert error.message == "Invalid value: '10'. Supported values are: '4', '8', and '12'."
    assert (error.code, error.param, error.http_status) == ("invalid_value", "seconds", status)


def test_404_while_polling_is_not_found():
    assert _error(404, on_404=FailureKind.NOT_FOUND).kind is FailureKind.NOT_FOUND


@pytest.mark.parametrize("code", ["moderation_blocked", "content_policy_violation", "content_filter"])
def test_moderation_refusals_are_content_policy(code):
    error = _error(400, code, "Your request was blocked by our moderation system.")
    assert error.kind is FailureKind.CONTENT_POLICY
    assert error.code == "content_policy_violation"
    assert error.message == f"Your request was blocked by our moderation system. (sora code: {code})"


@pytest.mark.parametrize("status", [401, 403])
def test_credentials_are_the_channels_and_the_key_never_leaks(fixture, status):
    error = wire.upstream_error(JsonResponse(status, fixture("sora-error-401")), action="create a video")
    assert error.kind is FailureKind.CHANNEL
    assert "sk-" not in error.message and "wxyz" not in error.message


def test_rate_limits_carry_retry_after():
    error = _error(429, "rate_limit_exceeded", headers={"Retry-After": "7"})
    assert (error.kind, error.retry_after) == (FailureKind.RATE_LIMITED, 7.0)


def test_an_exhausted_quota_is_the_channels():
    assert _error(429, "insufficient_quota").kind is FailureKind.CHANNEL


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient(status):
    assert _error(status, "server_error").kind is FailureKind.TRANSIENT


def test_non_json_error_bodies_still_map():
    error = wire.upstream_error(JsonResponse(400, None, {}, "<html>"), action="create a video")
    assert (error.kind, error.message) == (FailureKind.CALLER, "HTTP 400")


def test_secrets_are_scrubbed_from_messages():
    error = _error(400, message="key sk-live-abcdef and my-org-secret", secrets=("my-org-secret",))
    assert error.message == "key sk-*** and ***"


def test_an_unlabelled_upload_is_recognised_by_its_bytes(channel):
    image = ImageInput(base64=PNG_B64, mime_type="application/octet-stream", filename="frame")
    payload = wire.build_payload(_request(first_frame=image), SORA_2, channel)
    assert wire.image_mime_type(payload.upload) == "image/png"


def test_every_status_an_openai_compatible_upstream_sends_maps_through_its_table(fixture):
    from reelay.testing import check_status_table

    def payload_for(value):
        return {**fixture("sora-in_progress"), "status": value}

    check_status_table(wire.STATUSES, payload_for, wire.map_status)
    cancelled = wire.map_status(payload_for("cancelled"))
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.error is None
    expired = wire.map_status(payload_for("expired"))
    assert expired.status is TaskStatus.FAILED and expired.error.code == "expired"


def test_an_unknown_status_is_a_logged_transient_failure(fixture):
    from structlog.testing import capture_logs

    with capture_logs() as logs, pytest.raises(UpstreamError) as caught:
        wire.map_status({**fixture("sora-queued"), "status": "paused"})
    assert caught.value.retryable and caught.value.code == "unknown_status"
    assert any(entry["event"] == "unknown vendor status" and "paused" in entry["value"] for entry in logs)
