"""Reelay plugin for the OpenAI Videos (Sora) protocol.

Talks to any endpoint speaking it (OpenAI itself, Azure OpenAI, gateways
including other Reelay instances) at a channel's ``base_url``. Every I/O hook
answers only for channels of vendor ``sora`` and returns a coroutine the core
awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
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
from reelay.emulation import EmulatorSettings, EmulatorSpec

from . import wire
from .client import SoraClient
from .models import MODELS, VENDOR, VENDOR_SPEC

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "SoraClient"]

#: The credentials the emulator accepts and a demo channel sends.
DEMO_CREDENTIALS = {"api_key": "sk-demo-sora"}


@hookimpl
def reelay_register_vendors(register: Callable[[VendorSpec], None]) -> None:
    register(VENDOR_SPEC)


@hookimpl
def reelay_register_models(register: Callable[[ModelSpec], None]) -> None:
    for model in MODELS:
        register(model)


@hookimpl
@for_vendor(VENDOR)
def reelay_build_payload(request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.CreateVideo | None:
    return wire.build_payload(request, model, channel)


@hookimpl
@for_vendor(VENDOR)
def reelay_submit(
    payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    return SoraClient(channel, http).create(payload)


@hookimpl
@for_vendor(VENDOR)
def reelay_fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    return _fetch_status(task, channel, http)


async def _fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
    return await SoraClient(channel, http).retrieve(_video_id(task))


@hookimpl
@for_vendor(VENDOR)
def reelay_find_submission(
    task: Task, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef | None] | None:
    return SoraClient(channel, http).find(task)


@hookimpl
@for_vendor(VENDOR)
def reelay_map_status(payload: Any, task: Task, channel: Channel) -> StatusUpdate | None:
    return wire.map_status(payload)


@hookimpl
@for_vendor(VENDOR)
def reelay_open_content(
    task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
) -> Awaitable[ContentSource] | None:
    return _open_content(task, channel, http, variant)


async def _open_content(task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str) -> ContentSource:
    return SoraClient(channel, http).content(_video_id(task), variant)


@hookimpl
@for_vendor(VENDOR)
def reelay_cancel(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[None] | None:
    return _cancel(task, channel, http)


async def _cancel(task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
    await SoraClient(channel, http).delete(_video_id(task))


@hookimpl
@for_vendor(VENDOR)
def reelay_remix(task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[VendorRef] | None:
    return _remix(task, prompt, channel, http)


async def _remix(task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
    return await SoraClient(channel, http).remix(_video_id(task), prompt)


@hookimpl
def reelay_register_emulators(register: Callable[[EmulatorSpec], None]) -> None:
    register(EmulatorSpec(vendor=VENDOR, create_app=_create_emulator, credentials=DEMO_CREDENTIALS))


def _create_emulator(settings: EmulatorSettings) -> Any:
    from .emulator import create_app  # the server side loads only when an emulator runs

    return create_app(settings)


def _video_id(task: Task) -> str:
    if task.vendor_ref is None:  # interrupted submissions go to reelay_find_submission
        raise UpstreamError(FailureKind.NOT_FOUND, f"task {task.id} has no {VENDOR} video id", code="no_vendor_ref")
    return task.vendor_ref.id
