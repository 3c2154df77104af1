"""Vertex service accounts: google-auth mints tokens at the emulator's token endpoint."""

from __future__ import annotations

import asyncio
import datetime
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import reelay_veo
from reelay import FailureKind, TaskStatus, UnifiedRequest, UpstreamError
from reelay.emulation import EmulatorSettings, sample_clip, serve_app
from reelay.normalize import normalize
from reelay_veo import auth
from reelay_veo.emulator import STATE, create_app
from reelay_veo.models import BY_NAME

EMAIL = "veo-runner@demo-project.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
async def emulator(key_pair):
    """A Vertex emulator that knows the test service account; yields (url, app)."""
    _, public = key_pair
    settings = EmulatorSettings(
        credentials={"project": "demo-project", "location": "us-central1", "access_token": "unused-static"},
        generation_seconds=0.1,
        options={"api": "vertex", "service_accounts": {EMAIL: public}},
    )
    app = create_app(settings)
    async with serve_app(app) as url:
        yield url, app


def service_account_file(tmp_path, private_key: str, token_uri: str, email: str = EMAIL) -> str:
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "demo-project",
                "private_key_id": "test-key-1",
                "private_key": private_key,
                "client_email": email,
                "client_id": "1234567890",
                "token_uri": token_uri,
            }
        )
    )
    return str(path)


def sa_channel(vertex_channel, base_url: str, path: str):
    credentials = {"project": "demo-project", "location": "us-central1", "service_account_file": path}
    return vertex_channel(base_url, credentials=credentials)


async def test_a_service_account_channel_generates_through_the_emulator(
    pm, http, tmp_path, key_pair, emulator, vertex_channel
):
    url, app = emulator
    channel = sa_channel(vertex_channel, url, service_account_file(tmp_path, key_pair[0], f"{url}/token"))
    spec = BY_NAME["veo-3.1-fast-generate-001"].spec
    request = normalize(UnifiedRequest(model=spec.name, prompt="a fox", size="720x1280"), spec)
    payload = pm.hook.reelay_build_payload(request=request, model=spec, channel=channel)
    ref = await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)
    assert len(app[STATE].tokens) == 1
    await asyncio.sleep(0.15)
    from reelay import Task

    task = Task(id="t", owner="o", model=spec.name, vendor="veo", channel=channel.name, vendor_ref=ref)
    status = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    update = pm.hook.reelay_map_status(payload=status, task=task, channel=channel)
    assert update.status is TaskStatus.COMPLETED and update.result.data == sample_clip(8, 720, 1280)
    assert len(app[STATE].tokens) == 1  # the cached token served the poll too


async def test_tokens_are_cached_until_shortly_before_expiry(tmp_path, key_pair, emulator, vertex_channel, monkeypatch):
    url, _ = emulator
    channel = sa_channel(vertex_channel, url, service_account_file(tmp_path, key_pair[0], f"{url}/token"))
    first = await auth.access_token(channel)
    assert await auth.access_token(channel) == first
    source = auth._source_for(channel.credentials["service_account_file"])
    assert source.refreshes == 1
    # 56 minutes later the hour-long token is inside the refresh margin.
    later = auth._utcnow() + datetime.timedelta(minutes=56)
    monkeypatch.setattr(auth, "_utcnow", lambda: later)
    second = await auth.access_token(channel)
    assert second != first and source.refreshes == 2


async def test_concurrent_callers_share_one_refresh(tmp_path, key_pair, emulator, vertex_channel):
    url, app = emulator
    channel = sa_channel(vertex_channel, url, service_account_file(tmp_path, key_pair[0], f"{url}/token"))
    tokens = await asyncio.gather(*(auth.access_token(channel) for _ in range(5)))
    assert len(set(tokens)) == 1 and len(app[STATE].tokens) == 1


async def test_an_unknown_service_account_is_a_channel_failure(tmp_path, key_pair, emulator, vertex_channel):
    url, _ = emulator
    path = service_account_file(
        tmp_path, key_pair[0], f"{url}/token", email="stranger@elsewhere.iam.gserviceaccount.com"
    )
    with pytest.raises(UpstreamError) as caught:
        await auth.access_token(sa_channel(vertex_channel, url, path))
    assert caught.value.kind is FailureKind.CHANNEL
    assert "invalid_grant" in caught.value.message
    assert "PRIVATE KEY" not in caught.value.message


@pytest.mark.parametrize("content", [None, "not json", json.dumps({"type": "service_account"})])
async def test_an_unusable_file_is_a_channel_failure(tmp_path, vertex_channel, content):
    path = tmp_path / "sa.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UpstreamError) as caught:
        await auth.access_token(sa_channel(vertex_channel, "https://x.example", str(path)))
    assert caught.value.kind is FailureKind.CHANNEL and caught.value.code == "channel_misconfigured"


def test_vertex_base_url_defaults_to_the_location(vertex_channel):
    assert auth.channel_config(vertex_channel()).base_url == "https://us-central1-aiplatform.googleapis.com"
    explicit = vertex_channel("http://127.0.0.1:9999")
    assert auth.channel_config(explicit).base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("value", [True, "true", "yes", "1"])
def test_allow_loopback_images_accepts_toml_and_string_forms(gemini_channel, value):
    channel = gemini_channel(options={"api": "gemini", "allow_loopback_images": value})
    assert auth.channel_config(channel).allow_loopback_images is True
    assert auth.channel_config(gemini_channel()).allow_loopback_images is False


def test_bad_locations_are_refused(vertex_channel):
    channel = vertex_channel(credentials={"project": "p", "location": "us/../x", "access_token": "t"})
    with pytest.raises(UpstreamError, match="location"):
        auth.channel_config(channel)


def test_plugin_declares_google_auth_as_dependency():
    from importlib import metadata

    requirements = metadata.requires("reelay-veo") or []
    assert any(requirement.startswith("google-auth") for requirement in requirements)
    assert reelay_veo.VENDOR == "veo"
