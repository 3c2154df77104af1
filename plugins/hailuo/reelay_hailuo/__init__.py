"""Reelay plugin for MiniMax Hailuo, on the global (``intl``) or China (``cn``) platform.

Installed as the ``reelay-hailuo`` distribution, found through the ``reelay``
entry-point group (``hailuo = "reelay_hailuo:plugin"``). A channel picks its
platform with the ``region`` option; ``base_url`` (an origin, no ``/v1``)
still overrides the host.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from reelay.upstream import Regions, request_json

from . import wire
from .emulator import DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, Region, hailuo_model

__all__ = ["MODELS", "VENDOR", "HailuoPlugin", "create_app", "plugin"]

__version__ = "0.1.0"


#: MiniMax's platforms: ``region`` picks the host, ``base_url`` (when not the default) overrides it.
REGIONS = Regions({region.value: region.origin for region in Region}, default=Region.INTL, label="a MiniMax platform")
platform_origin = REGIONS.origin


class HailuoPlugin(VendorPlugin):
    """Hailuo: create, query, then resolve the finished ``file_id`` into a short-lived download URL."""

    vendor = VendorSpec(
        name=VENDOR,
        title="MiniMax Hailuo",
        default_base_url=Region.INTL.origin,
        credentials=(CredentialSpec("api_key", description="MiniMax API key of the channel's platform"),),
        options={"region": "intl (api.minimax.io, the default) or cn (api.minimaxi.com); base_url overrides"},
        docs_url="https://platform.minimax.io/docs/api-reference/video-generation-t2v",
        callbacks=True,  # MiniMax checks callback_url with a challenge, then posts each status (wire.callback_reply)
    )
    models = tuple(model.spec for model in MODELS)
    emulators = (EmulatorSpec(vendor=VENDOR, create_app=create_app, credentials=dict(DEMO_CREDENTIALS)),)

    def validate_channel(self, channel: Channel) -> list[str]:
        return REGIONS.problems(channel)

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> dict[str, Any]:
        return wire.build_body(request, hailuo_model(model), channel.upstream_model(model))

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        body = await self._call(http, channel, "POST", "/v1/video_generation", json_body=payload)
        task_id = body.get("task_id")
        if task_id in (None, ""):
            raise UpstreamError(FailureKind.TRANSIENT, "Hailuo accepted the task without a task_id")
        return VendorRef(id=str(task_id))

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        if task.vendor_ref is None:  # MiniMax has no caller-chosen id to find a task by
            raise UpstreamError(FailureKind.NOT_FOUND, "no Hailuo task_id was recorded")
        params = {"task_id": task.vendor_ref.id}
        return await self._call(http, channel, "GET", "/v1/query/video_generation", params=params, query=True)

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        return wire.map_status(payload)

    def callback_reply(self, body: bytes) -> Mapping[str, str] | None:
        return wire.callback_reply(body)

    def parse_callback(self, body: bytes, task: Task) -> StatusUpdate | None:
        return wire.parse_callback(body, task)

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        """A fresh ``download_url`` for the task's file (MiniMax's links last about an hour)."""
        if variant != "video":
            raise InvalidRequest(f"Hailuo has no {variant!r} variant; use 'video'", param="variant")
        file_id = task.result.extra.get("file_id") if task.result is not None else None
        if not file_id:
            update = wire.map_status(await self.fetch_status(task, channel, http))
            file_id = update.result.extra.get("file_id") if update.result is not None else None
        if not file_id:
            raise UpstreamError(FailureKind.NOT_FOUND, "Hailuo has no file for this task")
        body = await self._call(http, channel, "GET", "/v1/files/retrieve", params={"file_id": str(file_id)})
        return ContentSource(url=wire.download_url(body), mime_type="video/mp4")

    async def _call(
        self,
        http: aiohttp.ClientSession,
        channel: Channel,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        query: bool = False,
    ) -> Any:
        headers = {"Authorization": f"Bearer {channel.credentials.get('api_key', '')}"}
        url = platform_origin(channel) + path
        answer = await request_json(
            http, method, url, vendor="Hailuo", headers=headers, json_body=json_body, params=params
        )
        if query and answer.ok and wire.status_code(answer.body) in wire.MODERATION_CODES:
            return answer.body  # a moderated task: its end, mapped by map_status
        return wire.checked(answer.status, answer.body, answer.retry_after(), lookup=query)


plugin = HailuoPlugin()
