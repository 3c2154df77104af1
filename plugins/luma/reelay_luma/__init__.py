"""Reelay plugin for Luma's Dream Machine API: Ray 2 and Ray Flash 2 video.

Installed as the ``reelay-luma`` distribution; its entry point in the
``reelay`` group is :data:`plugin`, one :class:`LumaPlugin`.
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
from .emulator import DEMO_KEY, luma_app
from .models import MODELS, VENDOR

__all__ = ["MODELS", "VENDOR", "LumaPlugin", "luma_app", "plugin"]

__version__ = "0.1.0"


class LumaPlugin(VendorPlugin):
    """Luma Dream Machine: ``/dream-machine/v1/generations``."""

    vendor = VendorSpec(
        name=VENDOR,
        title="Luma Dream Machine",
        default_base_url="https://api.lumalabs.ai",
        credentials=(CredentialSpec("api_key", description="Luma API key (luma-...), sent as a Bearer token"),),
        can_cancel=True,
        docs_url="https://docs.lumalabs.ai/docs/api",
        callbacks=True,  # Luma posts the Generation to callback_url on each update (wire.parse_callback)
    )
    models = MODELS
    emulators = (EmulatorSpec(vendor=VENDOR, create_app=luma_app, credentials={"api_key": DEMO_KEY}),)

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> dict[str, Any]:
        return wire.create_body(request, channel.upstream_model(model))

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        return await client.create(payload, channel, http)

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        return await client.get(task, channel, http)

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        return wire.generation_update(payload)

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        return await client.video(task, channel, http, variant)

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        await client.delete(task, channel, http)

    def parse_callback(self, body: bytes, task: Task) -> StatusUpdate | None:
        return wire.parse_callback(body, task)


plugin = LumaPlugin()
