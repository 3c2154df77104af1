"""Reelay plugin for Kling (Kuaishou): text-to-video and image-to-video.

Installed as the ``reelay-kling`` distribution and found through the
``reelay`` entry-point group. The hooks answer only for channels whose vendor
is ``kling``.
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
    VendorRef,
    VendorSpec,
    for_vendor,
    hookimpl,
)
from reelay.emulation import EmulatorSpec

from . import client, wire
from .emulator import DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, kling_model

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "create_app"]

__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"

VENDOR_SPEC = VendorSpec(
    name=VENDOR,
    title="Kling (Kuaishou)",
    default_base_url=DEFAULT_BASE_URL,
    credentials=(
        CredentialSpec("access_key", description="Kling AccessKey (the JWT issuer)"),
        CredentialSpec("secret_key", description="Kling SecretKey (signs the JWT)"),
    ),
    docs_url="https://app.klingai.com/global/dev/document-api",
    search_authoritative=True,  # interrupted submissions are found by external_task_id
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
def reelay_build_payload(request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.KlingPayload | None:
    return wire.build_payload(request, kling_model(model), channel.upstream_model(model))


@hookimpl
@for_vendor(VENDOR)
def reelay_submit(
    payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    if not isinstance(payload, wire.KlingPayload):
        raise TypeError(f"reelay-kling cannot submit a {type(payload).__name__}")
    return client.submit(payload, channel, http)


@hookimpl
@for_vendor(VENDOR)
def reelay_fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    return client.fetch_status(task, channel, http)


@hookimpl
@for_vendor(VENDOR)
def reelay_find_submission(
    task: Task, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef | None] | None:
    return client.find_submission(task, channel, http)


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
    register(EmulatorSpec(vendor=VENDOR, create_app=create_app, credentials=dict(DEMO_CREDENTIALS)))
