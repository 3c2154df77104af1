"""Reelay plugin for the OpenAI Videos (Sora) protocol.

Talks to any endpoint speaking it (OpenAI itself, Azure OpenAI, gateways
including other Reelay instances) at a channel's ``base_url``. Its entry point
in the ``reelay`` group is :data:`plugin`, a :class:`reelay.VendorPlugin` that
answers only for channels of vendor ``sora``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from reelay import (
    Channel,
    Character,
    ContentSource,
    FailureKind,
    SourceVideo,
    Task,
    UpstreamError,
    VendorPlugin,
    VendorRef,
)
from reelay.emulation import EmulatorSettings, EmulatorSpec

from . import wire
from .client import SoraClient
from .models import MODELS, VENDOR, VENDOR_SPEC

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "SoraClient", "SoraPlugin", "plugin"]

#: The credentials the emulator accepts and a demo channel sends.
DEMO_CREDENTIALS = {"api_key": "sk-demo-sora"}


def _create_emulator(settings: EmulatorSettings) -> Any:
    from .emulator import create_app  # the server side loads only when an emulator runs

    return create_app(settings)


class SoraPlugin(VendorPlugin):
    """The OpenAI Videos hooks: payloads and statuses in :mod:`.wire`, calls on a :class:`SoraClient`."""

    vendor = VENDOR_SPEC
    models = MODELS
    emulators = (EmulatorSpec(vendor=VENDOR, create_app=_create_emulator, credentials=DEMO_CREDENTIALS),)

    payload_type = wire.CreateVideo
    build_payload = staticmethod(wire.build_payload)
    map_status = staticmethod(wire.map_status)

    async def submit(self, payload: wire.CreateVideo, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
        return await SoraClient(channel, http).create(payload)

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        return await SoraClient(channel, http).retrieve(_video_id(task))

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        return SoraClient(channel, http).content(_video_id(task), variant)

    async def find_submission(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> VendorRef | None:
        return await SoraClient(channel, http).find(task)

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        await SoraClient(channel, http).delete(_video_id(task))

    async def remix(self, task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
        return await SoraClient(channel, http).remix(_video_id(task), prompt)

    async def extend(
        self, source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        return await SoraClient(channel, http).extend(source, prompt, seconds)

    async def edit(self, source: SourceVideo, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
        return await SoraClient(channel, http).edit(source, prompt)

    async def create_character(
        self, name: str, video: SourceVideo, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        return await SoraClient(channel, http).create_character(name, video)

    async def get_character(self, character: Character, channel: Channel, http: aiohttp.ClientSession) -> Any:
        return await SoraClient(channel, http).get_character(character.vendor_ref.id)


def _video_id(task: Task) -> str:
    if task.vendor_ref is None:  # interrupted submissions go to reelay_find_submission
        raise UpstreamError(FailureKind.NOT_FOUND, f"task {task.id} has no {VENDOR} video id", code="no_vendor_ref")
    return task.vendor_ref.id


plugin = SoraPlugin()
