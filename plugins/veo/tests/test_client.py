"""The plugin's hooks against mocked Google endpoints (aioresponses), both forms."""

from __future__ import annotations

import asyncio
import base64
import json
import socket

import attrs
import pytest

from reelay import (
    ContentSource,
    FailureKind,
    InvalidRequest,
    NormalizationPolicy,
    Task,
    TaskStatus,
    UnifiedRequest,
    UpstreamError,
    VendorRef,
    VideoResult,
)
from reelay.emulation import sample_asset
from reelay.normalize import normalize
from reelay_veo.models import BY_NAME

GEMINI = "https://generativelanguage.googleapis.com"
VERTEX = "https://us-central1-aiplatform.googleapis.com"
VERTEX_MODEL = "/v1/projects/demo-project/locations/us-central1/publishers/google/models"
GEMINI_OP = "models/veo-3.1-generate-preview/operations/4w1q9k2m7z"
VERTEX_OP = f"{VERTEX_MODEL[4:]}/veo-3.1-generate-001/operations/0b6c1b8e"
PNG = sample_asset("sample.png")


def payload_for(pm, channel, **unified):
    unified.setdefault("prompt", "a fox in the snow")
    request = normalize(UnifiedRequest(**unified), BY_NAME[unified["model"]].spec, NormalizationPolicy.SNAP)
    payload = pm.hook.reelay_build_payload(request=request, model=BY_NAME[unified["model"]].spec, channel=channel)
    return payload, request


async def submit(pm, http, channel, **unified):
    payload, request = payload_for(pm, channel, **unified)
    return await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)


def sent(mocked, method, url):
    from yarl import URL

    return mocked.requests[(method, URL(url))]


def body_of(call) -> dict:
    """The JSON a mocked call sent, however the core's request_json passed it."""
    if call.kwargs.get("json") is not None:
        return call.kwargs["json"]
    data = call.kwargs["data"]
    return json.loads(data.getvalue() if hasattr(data, "getvalue") else data)


def task_on(channel, ref: VendorRef | None, result: VideoResult | None = None) -> Task:
    return Task(
        id="video_x", owner="t", model="veo-3", vendor="veo", channel=channel.name, vendor_ref=ref, result=result
    )


# ---------------------------------------------------------------- submission


async def test_gemini_submit_sends_the_key_and_keeps_the_whole_operation_name(pm, http, mocked, gemini_channel):
    url = f"{GEMINI}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    mocked.post(url, payload={"name": GEMINI_OP})
    ref = await submit(pm, http, gemini_channel(), model="veo-3", size="720x1280", seconds=6)
    assert ref.id == GEMINI_OP
    assert ref.data == {"api": "gemini", "model": "veo-3.1-generate-preview"}
    call = sent(mocked, "POST", url)[0]
    assert call.kwargs["headers"]["x-goog-api-key"] == "demo-gemini-key"
    assert body_of(call) == {
        "instances": [{"prompt": "a fox in the snow"}],
        "parameters": {"sampleCount": 1, "durationSeconds": 6, "aspectRatio": "9:16", "resolution": "720p"},
    }


async def test_vertex_submit_uses_the_project_path_and_a_bearer_token(pm, http, mocked, vertex_channel):
    url = f"{VERTEX}{VERTEX_MODEL}/veo-3.1-generate-001:predictLongRunning"
    mocked.post(url, payload={"name": VERTEX_OP})
    ref = await submit(pm, http, vertex_channel(), model="veo-3.1-generate-001", metadata={"seed": 42})
    assert ref.id == VERTEX_OP and ref.data["api"] == "vertex"
    call = sent(mocked, "POST", url)[0]
    assert call.kwargs["headers"]["Authorization"] == "Bearer demo-vertex-token"
    assert body_of(call)["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 8,
        "aspectRatio": "16:9",
        "resolution": "720p",
        "seed": 42,
        "generateAudio": True,
    }


async def test_vertex_model_map_renames_the_upstream_model(pm, http, mocked, vertex_channel):
    channel = vertex_channel(model_map={"veo-3": "veo-3.1-generate-001"})
    url = f"{VERTEX}{VERTEX_MODEL}/veo-3.1-generate-001:predictLongRunning"
    mocked.post(url, payload={"name": VERTEX_OP})
    ref = await submit(pm, http, channel, model="veo-3")
    assert ref.data["model"] == "veo-3.1-generate-001"


async def test_vertex_global_location_and_explicit_base_url(pm, http, mocked, vertex_channel):
    channel = vertex_channel(credentials={"project": "p1", "location": "global", "access_token": "tok"})
    mocked.post(
        "https://aiplatform.googleapis.com/v1/projects/p1/locations/global/publishers/google/models/"
        "veo-3.1-generate-001:predictLongRunning",
        payload={"name": "projects/p1/locations/global/publishers/google/models/veo-3.1-generate-001/operations/1"},
    )
    await submit(pm, http, channel, model="veo-3.1-generate-001")
    proxy = vertex_channel(base_url="https://veo-proxy.internal.example")
    mocked.post(f"https://veo-proxy.internal.example{VERTEX_MODEL}/veo-2.0-generate-001:predictLongRunning", payload={})
    with pytest.raises(UpstreamError, match="without an operation name"):
        await submit(pm, http, proxy, model="veo-2.0-generate-001")


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, "error-invalid-argument", FailureKind.CALLER, "invalid_request"),
        (400, "error-api-key-invalid", FailureKind.CHANNEL, "channel_auth"),
        (403, "error-permission-denied", FailureKind.CHANNEL, "channel_auth"),
        (404, "error-not-found", FailureKind.CALLER, "model_not_found"),
        (429, "error-resource-exhausted", FailureKind.RATE_LIMITED, "rate_limited"),
        (503, "error-unavailable", FailureKind.TRANSIENT, "upstream_unavailable"),
        (400, "error-content-policy", FailureKind.CONTENT_POLICY, "content_policy_violation"),
    ],
)
async def test_submit_errors(pm, http, mocked, fixture, status, body, kind, code, gemini_channel):
    url = f"{GEMINI}/v1beta/models/veo-3.0-fast-generate-001:predictLongRunning"
    mocked.post(url, status=status, payload=fixture(body), headers={"Retry-After": "3"})
    with pytest.raises(UpstreamError) as caught:
        await submit(pm, http, gemini_channel(), model="veo-3.0-fast-generate-001")
    assert (caught.value.kind, caught.value.code) == (kind, code)
    if code == "model_not_found":
        assert "'veo-3.0-fast-generate-001'" in caught.value.message
    if kind is FailureKind.RATE_LIMITED:
        assert caught.value.retry_after == 3.0


async def test_connection_failures_are_transient(pm, http, mocked, gemini_channel):
    with pytest.raises(UpstreamError) as caught:
        await submit(pm, http, gemini_channel(), model="veo-3")  # nothing mocked: aioresponses refuses
    assert caught.value.kind is FailureKind.TRANSIENT


async def test_messages_never_carry_the_key(pm, http, mocked, gemini_channel):
    url = f"{GEMINI}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    mocked.post(url, status=400, payload={"error": {"code": 400, "message": "bad key demo-gemini-key given"}})
    with pytest.raises(UpstreamError) as caught:
        await submit(pm, http, gemini_channel(), model="veo-3")
    assert "demo-gemini-key" not in caught.value.message and "[redacted]" in caught.value.message


async def test_a_vertex_only_model_on_a_gemini_channel_fails_over(pm, http, mocked, gemini_channel):
    with pytest.raises(UpstreamError) as caught:
        await submit(pm, http, gemini_channel(), model="veo-3.1-generate-001")
    assert caught.value.kind is FailureKind.CHANNEL
    assert not mocked.requests


def test_vertex_only_metadata_is_a_400_before_anything_is_sent(pm, gemini_channel):
    with pytest.raises(InvalidRequest) as caught:
        payload_for(pm, gemini_channel(), model="veo-3", metadata={"generateAudio": False})
    assert caught.value.param == "metadata.generateAudio"


@pytest.mark.parametrize(
    ("credentials", "options", "missing"),
    [
        ({}, {"api": "gemini"}, "api_key"),
        ({"location": "us-central1", "access_token": "t"}, {"api": "vertex"}, "project"),
        ({"project": "p", "access_token": "t"}, {"api": "vertex"}, "location"),
        ({"project": "p", "location": "us-central1"}, {"api": "vertex"}, "service_account_file or access_token"),
        ({"api_key": "k"}, {"api": "bedrock"}, "api: must be"),
    ],
)
async def test_misconfigured_channels_fail_over(pm, http, mocked, credentials, options, missing, gemini_channel):
    channel = gemini_channel(credentials=credentials, options=options)
    with pytest.raises(UpstreamError) as caught:
        await submit(pm, http, channel, model="veo-3")
    assert caught.value.kind is FailureKind.CHANNEL and missing in caught.value.message


@pytest.mark.parametrize(
    ("credentials", "options", "problem"),
    [
        ({}, {}, "credentials.api_key: required on a Gemini channel"),
        ({"api_key": "k"}, {"api": "bedrock"}, "api: must be 'gemini' or 'vertex', not 'bedrock'"),
        ({"project": "p", "location": "us-central1"}, {"api": "vertex"}, "credentials: a Vertex channel needs"),
    ],
)
def test_misconfigured_channels_are_reported_at_start_up(pm, credentials, options, problem, gemini_channel):
    from reelay.config import Config, validate
    from reelay.plugins import Registry

    channel = gemini_channel(credentials=credentials, options=options)
    problems = validate(Config(channels=(channel,)), Registry.collect(pm), pm)
    assert any(line.startswith(f"channels[0].{problem}") for line in problems), problems


def test_vertex_only_models_are_not_served_by_gemini_channels(pm, gemini_channel, tmp_path):
    from reelay import Dispatcher
    from reelay.config import Config, StoreConfig

    gemini = gemini_channel(credentials={"api_key": "k"}, options={"api": "gemini"})
    vertex = attrs.evolve(
        gemini,
        name="vertex",
        credentials={"project": "p", "location": "us-central1", "access_token": "t"},
        options={"api": "vertex"},
    )
    config = Config(channels=(gemini, vertex), store=StoreConfig(url=f"sqlite:///{tmp_path / 'r.db'}"))
    dispatcher = Dispatcher(config, pm=pm)
    ga_model = dispatcher.registry.models["veo-3.1-generate-001"]
    assert [c.name for c in dispatcher.channels_for(ga_model, "default")] == ["vertex"]
    assert len(dispatcher.channels_for(dispatcher.registry.models["veo-3"], "default")) == 2


# ---------------------------------------------------------------- images by URL


@pytest.fixture
async def public_dns(monkeypatch):
    """Every name resolves to one public address (nothing is contacted: aioresponses answers)."""

    async def getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)


async def test_url_images_are_downloaded_and_sent_as_bytes(pm, http, mocked, public_dns, gemini_channel):
    mocked.get("https://93.184.216.34/first.png", body=PNG, content_type="image/png")
    mocked.get("https://93.184.216.34/ref.png", body=PNG, content_type="image/png")
    url = f"{GEMINI}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    mocked.post(url, payload={"name": GEMINI_OP})
    await submit(
        pm,
        http,
        gemini_channel(),
        model="veo-3",
        image="https://images.example/first.png",
        metadata={"referenceImages": ["https://images.example/ref.png"]},
    )
    instance = body_of(sent(mocked, "POST", url)[0])["instances"][0]
    encoded = base64.b64encode(PNG).decode()
    assert instance["image"] == {"bytesBase64Encoded": encoded, "mimeType": "image/png"}
    assert instance["referenceImages"] == [
        {"image": {"bytesBase64Encoded": encoded, "mimeType": "image/png"}, "referenceType": "asset"}
    ]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/cat.png", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://127.0.0.1:8080/cat.png", "loopback"),
        ("http://[::ffff:192.168.0.1]/cat.png", "private"),
    ],
)
async def test_internal_image_urls_are_refused_with_a_400(pm, http, mocked, url, reason, gemini_channel):
    with pytest.raises(InvalidRequest) as caught:
        await submit(pm, http, gemini_channel(), model="veo-3", image=url)
    assert reason in caught.value.message and caught.value.param == "image" and caught.value.status == 400
    assert not mocked.requests


async def test_a_downloaded_image_veo_cannot_read_is_refused(pm, http, mocked, public_dns, gemini_channel):
    mocked.get("https://93.184.216.34/anim.gif", body=b"GIF89a", content_type="image/gif")
    with pytest.raises(InvalidRequest, match="image/jpeg, image/png, image/webp") as caught:
        await submit(pm, http, gemini_channel(), model="veo-3", image="https://images.example/anim.gif")
    assert caught.value.code == "image_type_not_supported"  # the model's ImageRules, judged by the bytes


async def test_a_downloaded_png_served_as_octet_stream_is_sent_as_png(pm, http, mocked, public_dns, gemini_channel):
    png = sample_asset("sample.png")
    mocked.get("https://93.184.216.34/cat", body=png, content_type="application/octet-stream")
    mocked.post(f"{GEMINI}/v1beta/models/veo-3.1-generate-preview:predictLongRunning", payload={"name": GEMINI_OP})
    await submit(pm, http, gemini_channel(), model="veo-3", image="https://images.example/cat")
    url = f"{GEMINI}/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    image = body_of(sent(mocked, "POST", url)[0])["instances"][0]["image"]
    assert image["mimeType"] == "image/png"


# ---------------------------------------------------------------- status


async def test_gemini_status_is_a_get_on_the_operation_name(pm, http, mocked, fixture, gemini_channel):
    mocked.get(f"{GEMINI}/v1beta/{GEMINI_OP}", payload=fixture("gemini-completed"))
    channel = gemini_channel()
    task = task_on(channel, VendorRef(GEMINI_OP, {"api": "gemini"}))
    payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    update = pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
    assert update.status is TaskStatus.COMPLETED


async def test_vertex_status_is_fetch_predict_operation(pm, http, mocked, fixture, vertex_channel):
    url = f"{VERTEX}{VERTEX_MODEL}/veo-3.1-generate-001:fetchPredictOperation"
    mocked.post(url, payload=fixture("vertex-running"))
    channel = vertex_channel()
    task = task_on(channel, VendorRef(VERTEX_OP, {"api": "vertex"}))
    payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    assert pm.hook.reelay_map_status(payload=payload, task=task, channel=channel).status is TaskStatus.IN_PROGRESS
    call = sent(mocked, "POST", url)[0]
    assert body_of(call) == {"operationName": VERTEX_OP}
    assert call.kwargs["headers"]["Authorization"] == "Bearer demo-vertex-token"


@pytest.mark.parametrize(
    ("status", "kind"), [(404, FailureKind.NOT_FOUND), (500, FailureKind.TRANSIENT), (401, FailureKind.CHANNEL)]
)
async def test_status_errors(pm, http, mocked, status, kind, gemini_channel):
    mocked.get(f"{GEMINI}/v1beta/{GEMINI_OP}", status=status, payload={"error": {"code": status, "message": "m"}})
    channel = gemini_channel()
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task_on(channel, VendorRef(GEMINI_OP)), channel=channel, http=http)
    assert caught.value.kind is kind


async def test_status_without_a_reference_asks_the_core_to_resubmit(pm, http, gemini_channel):
    channel = gemini_channel()
    with pytest.raises(UpstreamError) as caught:
        await pm.hook.reelay_fetch_status(task=task_on(channel, None), channel=channel, http=http)
    assert caught.value.kind is FailureKind.NOT_FOUND


@pytest.mark.parametrize("name", ["../../secrets", "models/x/operations/1?key=2", "/abs", "a//b"])
async def test_malformed_operation_names_are_not_sent(pm, http, mocked, name, gemini_channel):
    channel = gemini_channel()
    with pytest.raises(UpstreamError):
        await pm.hook.reelay_fetch_status(task=task_on(channel, VendorRef(name)), channel=channel, http=http)
    assert not mocked.requests


# ---------------------------------------------------------------- content


async def test_gemini_content_is_the_file_uri_with_the_key(pm, http, gemini_channel):
    channel = gemini_channel()
    uri = f"{GEMINI}/v1beta/files/3xq8n1v0p2ls:download?alt=media"
    task = task_on(channel, VendorRef(GEMINI_OP), VideoResult(url=uri))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source == ContentSource(url=uri, headers={"x-goog-api-key": "demo-gemini-key"}, mime_type="video/mp4")


async def test_the_key_goes_only_to_google(pm, http, gemini_channel):
    channel = gemini_channel()
    task = task_on(channel, VendorRef(GEMINI_OP), VideoResult(url="https://cdn.example.com/v.mp4"))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source.headers == {}


async def test_vertex_gcs_content_reads_the_json_api_with_the_token(pm, http, vertex_channel):
    channel = vertex_channel()
    task = task_on(channel, VendorRef(VERTEX_OP), VideoResult(url="gs://demo-bucket/veo/17 32/sample_0.mp4"))
    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert (
        source.url == "https://storage.googleapis.com/storage/v1/b/demo-bucket/o/veo%2F17%2032%2Fsample_0.mp4?alt=media"
    )
    assert source.headers == {"Authorization": "Bearer demo-vertex-token"}


async def test_other_variants_are_refused(pm, http, gemini_channel):
    channel = gemini_channel()
    task = task_on(channel, VendorRef(GEMINI_OP), VideoResult(url="https://x.googleapis.com/v"))
    with pytest.raises(InvalidRequest):
        await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="thumbnail")


async def test_hooks_ignore_other_vendors(pm, http, gemini_channel):
    other = gemini_channel(vendor="sora")
    assert pm.hook.reelay_fetch_status(task=task_on(other, None), channel=other, http=http) is None
    assert pm.hook.reelay_map_status(payload={}, task=task_on(other, None), channel=other) is None


def test_registered_vendor_and_models(pm):
    from reelay.plugins import Registry

    registry = Registry.collect(pm)
    vendor = registry.vendors["veo"]
    assert set(vendor.options) >= {"api", "allow_loopback_images"}
    assert {c.name for c in vendor.credentials} == {
        "api_key",
        "project",
        "location",
        "service_account_file",
        "access_token",
    }
    assert registry.model("veo-3").upstream == "veo-3.1-generate-preview"
    assert json.dumps(vendor.options)  # plain data, printable by `reelay plugins`
