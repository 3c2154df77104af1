"""Reelay plugin for Runway's developer API: Gen-4.5, Gen-4 Turbo and Veo 3.1.

Installed as the ``reelay-runway`` distribution; its entry point in the
``reelay`` group is :data:`plugin`, one :class:`RunwayPlugin`.
"""

from __future__ import annotations

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
    VendorPlugin,
    VendorRef,
    VendorSpec,
)
from reelay.emulation import EmulatorSpec

from . import client, wire
from .emulator import DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, runway_model

__all__ = ["MODELS", "VENDOR", "RunwayPlugin", "create_app", "plugin"]

__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api.dev.runwayml.com"


class RunwayPlugin(VendorPlugin):
    """Runway: ``/v1/text_to_video``, ``/v1/image_to_video``, ``/v1/tasks/{id}``."""

    vendor = VendorSpec(
        name=VENDOR,
        title="Runway",
        default_base_url=DEFAULT_BASE_URL,
        credentials=(CredentialSpec("api_key", description="Runway API secret (sent as a Bearer token)"),),
        can_cancel=True,
        docs_url="https://docs.dev.runwayml.com/api/",
    )
    models = tuple(model.spec for model in MODELS)
    emulators = (EmulatorSpec(vendor=VENDOR, create_app=create_app, credentials=dict(DEMO_CREDENTIALS)),)

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.RunwayPayload:
        return wire.build_payload(request, runway_model(model), channel.upstream_model(model))

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        if not isinstance(payload, wire.RunwayPayload):
            raise TypeError(f"reelay-runway cannot submit a {type(payload).__name__}")
        return await client.submit(payload, channel, http)

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        return await client.fetch_status(task, channel, http)

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        return wire.map_status(payload)

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        return await client.open_content(task, channel, http, variant)

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        await client.cancel(task, channel, http)


plugin = RunwayPlugin()
