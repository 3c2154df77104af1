"""Reelay plugin for Google Veo, on the Gemini API or on Vertex AI.

Installed as the ``reelay-veo`` distribution and found through the ``reelay``
entry-point group. A channel picks its form with the ``api`` option
(``gemini``, the default, or ``vertex``). The hooks answer only for channels
whose vendor is ``veo``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    CredentialSpec,
    GenerationRequest,
    ModelSpec,
    StatusUpdate,
    Task,
    UpstreamError,
    VendorRef,
    VendorSpec,
    for_vendor,
    hookimpl,
)
from reelay.emulation import EmulatorSpec

from . import client, wire
from .auth import GEMINI_BASE_URL, channel_config, channel_problems, option_docs
from .emulator import GEMINI_DEMO_CREDENTIALS, VERTEX_DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, ApiForm, models_for, veo_model

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "create_app"]

VENDOR_SPEC = VendorSpec(
    name=VENDOR,
    title="Google Veo (Gemini API or Vertex AI)",
    default_base_url=GEMINI_BASE_URL,
    # Which credentials a channel needs depends on its form, so none is
    # required here; channel_config() names what is missing.
    credentials=(
        CredentialSpec("api_key", required=False, description="Gemini API key (api = gemini)"),
        CredentialSpec("project", required=False, secret=False, description="Google Cloud project id (vertex)"),
        CredentialSpec("location", required=False, secret=False, description="Vertex AI region, e.g. us-central1"),
        CredentialSpec(
            "service_account_file",
            required=False,
            secret=False,
            description="path of a service-account JSON key (vertex); tokens are minted and refreshed",
        ),
        CredentialSpec("access_token", required=False, description="a static OAuth access token (vertex)"),
    ),
    options=option_docs(),
    docs_url="https://ai.google.dev/gemini-api/docs/video",
)


@hookimpl
def reelay_register_vendors(register: Callable[[VendorSpec], None]) -> None:
    register(VENDOR_SPEC)


@hookimpl
def reelay_register_models(register: Callable[[ModelSpec], None]) -> None:
    for model in MODELS:
        register(model.spec)


@hookimpl
@for_vendor(VENDOR)
def reelay_validate_channel(channel: Channel, vendor: VendorSpec) -> list[str] | None:
    return channel_problems(channel)


@hookimpl
@for_vendor(VENDOR)
def reelay_channel_serves(model: ModelSpec, channel: Channel) -> bool | None:
    if channel_problems(channel):
        return None  # reported by reelay_validate_channel
    return channel_config(channel).api in veo_model(model).forms


@hookimpl
@for_vendor(VENDOR)
def reelay_build_payload(request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.VeoPayload | None:
    api = _api_of(channel)
    return wire.build_payload(request, veo_model(model), api, channel.upstream_model(model))


@hookimpl
@for_vendor(VENDOR)
def reelay_submit(
    payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    if not isinstance(payload, wire.VeoPayload):
        raise TypeError(f"reelay-veo cannot submit a {type(payload).__name__}")
    return client.submit(payload, channel, http)


@hookimpl
@for_vendor(VENDOR)
def reelay_fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    return client.fetch_status(task, channel, http)


@hookimpl
@for_vendor(VENDOR)
def reelay_map_status(payload: Any, task: Task, channel: Channel) -> StatusUpdate | None:
    return wire.map_status(payload)


@hookimpl
@for_vendor(VENDOR)
def reelay_open_content(
    task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
) -> Awaitable[ContentSource] | None:
    return client.open_content(task, channel, http, variant)


@hookimpl
def reelay_register_emulators(register: Callable[[EmulatorSpec], None]) -> None:
    register(
        EmulatorSpec(
            vendor=VENDOR,
            name="veo-gemini",
            create_app=create_app,
            credentials=dict(GEMINI_DEMO_CREDENTIALS),
            channel_options={"api": ApiForm.GEMINI.value, "allow_loopback_images": True},
            models=models_for(ApiForm.GEMINI),
        )
    )
    register(
        EmulatorSpec(
            vendor=VENDOR,
            name="veo-vertex",
            create_app=create_app,
            credentials=dict(VERTEX_DEMO_CREDENTIALS),
            channel_options={"api": ApiForm.VERTEX.value, "allow_loopback_images": True},
            models=models_for(ApiForm.VERTEX),
        )
    )


def _api_of(channel: Channel) -> ApiForm:
    """The channel's form; a misconfigured channel is reported at submission, where it fails over."""
    try:
        return channel_config(channel).api
    except UpstreamError:
        return ApiForm.VERTEX if str(channel.options.get("api", "")).lower() == "vertex" else ApiForm.GEMINI
