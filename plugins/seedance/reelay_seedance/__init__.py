"""Reelay plugin for ByteDance Seedance on Volcengine Ark (``cn``) or BytePlus ModelArk (``intl``).

Installed as the ``reelay-seedance`` distribution, found through the ``reelay``
entry-point group (``seedance = "reelay_seedance:plugin"``). A channel picks
its Ark with the ``region`` option; ``base_url`` (an origin, no ``/api/v3``)
still overrides the region's host.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    CredentialSpec,
    FailureKind,
    GenerationRequest,
    InvalidRequest,
    ModelSpec,
    StatusUpdate,
    Task,
    UpstreamError,
    VendorPlugin,
    VendorRef,
    VendorSpec,
)
from reelay.emulation import EmulatorSpec
from reelay.upstream import Regions, join_url, request_json

from . import wire
from .emulator import DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, Region, models_of, seedance_model

__all__ = ["MODELS", "VENDOR", "SeedancePlugin", "create_app", "plugin"]

__version__ = "0.1.0"

TASKS_PATH = "/api/v3/contents/generations/tasks"
VENDOR_NAME = "Seedance"


#: The Arks: ``region`` picks the host, ``base_url`` (when not the default) overrides it.
REGIONS = Regions({region.value: region.origin for region in Region}, default=Region.CN, label="a Seedance region")


def channel_region(channel: Channel) -> Region:
    """The channel's Ark; an unknown name is reported by ``validate_channel`` and treated as ``cn`` here."""
    return Region(REGIONS.region(channel))


channel_origin = REGIONS.origin


def _emulator(region: Region) -> EmulatorSpec:
    return EmulatorSpec(
        vendor=VENDOR,
        name=f"seedance-{region.value}",
        create_app=create_app,
        credentials=dict(DEMO_CREDENTIALS),
        channel_options={"region": region.value},
        models=models_of(region),
    )


class SeedancePlugin(VendorPlugin):
    """Seedance text- and image-to-video: one Ark task per generation, the video a pre-signed URL."""

    vendor = VendorSpec(
        name=VENDOR,
        title="ByteDance Seedance (Volcengine Ark / BytePlus ModelArk)",
        default_base_url=Region.CN.origin,
        credentials=(CredentialSpec("api_key", description="Ark API key of the channel's region"),),
        options={
            "region": "cn (Volcengine Ark, the default; doubao-seedance-* ids) or intl (BytePlus ModelArk;"
            " seedance-* and dreamina-seedance-* ids); base_url overrides the host",
        },
        can_cancel=True,
        docs_url="https://www.volcengine.com/docs/82379/1520757",
        callbacks=True,  # Ark posts the task object to callback_url on each status (wire.parse_callback)
    )
    models = tuple(model.spec for model in MODELS)
    emulators = (_emulator(Region.CN), _emulator(Region.INTL))

    # ------------------------------------------------------------ configuration

    def validate_channel(self, channel: Channel) -> list[str]:
        return REGIONS.problems(channel)

    def serves(self, model: ModelSpec, channel: Channel) -> bool:
        return seedance_model(model).region is channel_region(channel)

    # ------------------------------------------------------------ the task's life

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> dict[str, Any]:
        return wire.build_body(request, seedance_model(model), channel.upstream_model(model))

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        body = await self._call(http, channel, "POST", TASKS_PATH, json_body=payload)
        task_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise UpstreamError(FailureKind.TRANSIENT, "Seedance accepted the task without an id")
        return VendorRef(id=task_id)

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        if task.vendor_ref is None:  # Ark has no caller-chosen id to look a task up by
            raise UpstreamError(FailureKind.NOT_FOUND, "no Seedance task id was recorded")
        return await self._call(http, channel, "GET", f"{TASKS_PATH}/{task.vendor_ref.id}")

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        return wire.map_status(payload)

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        if variant != "video":
            raise InvalidRequest(f"Seedance has no {variant!r} variant; use 'video'", param="variant")
        url = task.result.url if task.result is not None else None
        if not url:
            update = wire.map_status(await self.fetch_status(task, channel, http))
            url = update.result.url if update.result is not None else None
        if not url:
            raise UpstreamError(FailureKind.NOT_FOUND, "Seedance has no video for this task")
        return ContentSource(url=url, mime_type="video/mp4")  # pre-signed: no credentials

    def parse_callback(self, body: bytes, task: Task) -> StatusUpdate | None:
        return wire.parse_callback(body, task)

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        """DELETE cancels a queued task (Ark refuses a running one with 409 InvalidAction.RunningTaskDeletion)."""
        if task.vendor_ref is None:
            raise UpstreamError(FailureKind.NOT_FOUND, "no Seedance task id was recorded")
        await self._call(http, channel, "DELETE", f"{TASKS_PATH}/{task.vendor_ref.id}")

    async def _call(
        self, http: aiohttp.ClientSession, channel: Channel, method: str, path: str, json_body: Any = None
    ) -> Any:
        headers = {"Authorization": f"Bearer {channel.credentials.get('api_key', '')}"}
        url = join_url(channel_origin(channel), path)
        response = await request_json(http, method, url, vendor=VENDOR_NAME, headers=headers, json_body=json_body)
        if not response.ok:
            raise wire.upstream_error(response.status, response.body, response.retry_after())
        return response.body


plugin = SeedancePlugin()
