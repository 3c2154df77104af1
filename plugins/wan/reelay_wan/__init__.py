"""Reelay plugin for Alibaba Wan on Model Studio (DashScope), Singapore (``intl``) or Beijing (``cn``).

Installed as the ``reelay-wan`` distribution, found through the ``reelay``
entry-point group (``wan = "reelay_wan:plugin"``). Creation is asynchronous
(``X-DashScope-Async: enable``); the task is polled at ``/api/v1/tasks/{id}``
and cancelled while it is PENDING.
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
from .models import MODELS, VENDOR, Kind, Region, wan_model

__all__ = ["MODELS", "VENDOR", "WanPlugin", "create_app", "plugin"]

__version__ = "0.1.0"


#: Model Studio's regions: ``region`` picks the host, ``base_url`` (when not the default) overrides it.
REGIONS = Regions(
    {region.value: region.origin for region in Region}, default=Region.INTL, label="a Model Studio region"
)
dashscope_root = REGIONS.origin


class WanPlugin(VendorPlugin):
    """Wan text-to-video, first-frame and first-and-last-frame video through DashScope's async tasks."""

    vendor = VendorSpec(
        name=VENDOR,
        title="Alibaba Wan (Model Studio / DashScope)",
        default_base_url=Region.INTL.origin,
        credentials=(CredentialSpec("api_key", description="DashScope API key of the channel's region"),),
        options={"region": "intl (Singapore, the default) or cn (Beijing); keys and catalogues are per region"},
        can_cancel=True,
        docs_url="https://www.alibabacloud.com/help/en/model-studio/text-to-video-api-reference",
    )
    models = tuple(model.spec for model in MODELS)
    emulators = tuple(
        EmulatorSpec(
            vendor=VENDOR,
            name=f"wan-{region.value}",
            create_app=create_app,
            credentials=dict(DEMO_CREDENTIALS),
            channel_options={"region": region.value},
            models=tuple(model.name for model in MODELS if region in model.regions),
        )
        for region in Region
    )

    def validate_channel(self, channel: Channel) -> list[str]:
        return REGIONS.problems(channel)

    def serves(self, model: ModelSpec, channel: Channel) -> bool:
        return Region(REGIONS.region(channel)) in wan_model(model).regions

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> dict[str, Any]:
        return wire.build_body(request, wan_model(model), channel.upstream_model(model))

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        path = (Kind.KF2V if "first_frame_url" in payload["input"] else Kind.T2V).path
        answer = await self._send(http, channel, "POST", path, payload, {"X-DashScope-Async": "enable"})
        task_id = (answer.get("output") or {}).get("task_id")
        if not task_id:
            raise UpstreamError(FailureKind.TRANSIENT, "Wan accepted the task without a task_id")
        return VendorRef(id=str(task_id))

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        return await self._send(http, channel, "GET", f"/api/v1/tasks/{self._task_id(task)}")

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        return wire.map_status(payload)

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        if variant != "video":
            raise InvalidRequest(f"Wan has no {variant!r} variant; use 'video'", param="variant")
        url = task.result.url if task.result else None
        if not url:
            found = wire.map_status(await self.fetch_status(task, channel, http)).result
            url = found.url if found else None
        if not url:
            raise UpstreamError(FailureKind.NOT_FOUND, "Wan has no video for this task")
        return ContentSource(url=url, mime_type="video/mp4")  # a signed OSS URL, valid 24 hours

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        """Only a PENDING task can be cancelled; DashScope answers 400 UnsupportedOperation otherwise."""
        await self._send(http, channel, "POST", f"/api/v1/tasks/{self._task_id(task)}/cancel")

    @staticmethod
    def _task_id(task: Task) -> str:
        if task.vendor_ref is None:
            raise UpstreamError(FailureKind.NOT_FOUND, "no Wan task_id was recorded")
        return task.vendor_ref.id

    async def _send(self, http, channel, method, path, body=None, extra_headers=None) -> Any:
        headers = {"Authorization": f"Bearer {channel.credentials.get('api_key', '')}", **(extra_headers or {})}
        url = join_url(dashscope_root(channel), path)
        answer = await request_json(http, method, url, vendor="Wan", headers=headers, json_body=body)
        if not answer.ok:
            wire.raise_for(answer.status, answer.body, answer.retry_after())
        return answer.body


plugin = WanPlugin()
