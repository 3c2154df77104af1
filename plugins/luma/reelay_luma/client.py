"""Calls to Luma's Dream Machine API under ``/dream-machine/v1``."""

from __future__ import annotations

from typing import Any

import aiohttp

from reelay import Channel, ContentSource, FailureKind, InvalidRequest, Task, UpstreamError, VendorRef
from reelay.upstream import JsonResponse, join_url, request_json

from .wire import read_generation, refusal

API_PREFIX = "/dream-machine/v1"
VENDOR_NAME = "Luma"


def _url(channel: Channel, path: str) -> str:
    return join_url(channel.base_url, API_PREFIX + path)


def _auth(channel: Channel) -> dict[str, str]:
    api_key = channel.credentials.get("api_key")
    if not api_key:
        raise UpstreamError(
            FailureKind.CHANNEL, f"channel {channel.name!r} has no api_key for Luma", code="channel_misconfigured"
        )
    return {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}


async def _call(
    channel: Channel, http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> JsonResponse:
    response = await request_json(
        http, method, _url(channel, path), vendor=VENDOR_NAME, headers=_auth(channel), json_body=body
    )
    if not response.ok:
        raise refusal(response.status, response.body, retry_after=response.retry_after())
    return response


async def create(body: dict[str, Any], channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
    """``POST /generations/video``: Luma answers 201 with the queued Generation."""
    response = await _call(channel, http, "POST", "/generations/video", body)
    return VendorRef(id=read_generation(response.body).id)


async def get(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
    """The Generation; Luma has no lookup by the gateway's id, so without one the core resubmits."""
    if task.vendor_ref is None:
        raise UpstreamError(FailureKind.NOT_FOUND, "no Luma generation id was recorded")
    return (await _call(channel, http, "GET", f"/generations/{task.vendor_ref.id}")).body


async def video(task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str) -> ContentSource:
    """``assets.video`` (or ``assets.image`` for ``thumbnail``): public CDN URLs, fetched without auth."""
    if variant not in ("video", "thumbnail"):
        raise InvalidRequest(f"Luma has no {variant!r} variant; use 'video' or 'thumbnail'", param="variant")
    result = task.result
    url = result.url if variant == "video" and result is not None else None
    if variant == "thumbnail" and result is not None:
        url = result.extra.get("thumbnail_url")
    if not url:
        assets = read_generation(await get(task, channel, http)).assets
        url = (assets.video if variant == "video" else assets.image) if assets else None
    if not url:
        raise UpstreamError(FailureKind.NOT_FOUND, f"Luma has no {variant} for this generation")
    return ContentSource(url=url, mime_type="video/mp4" if variant == "video" else None)


async def delete(task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
    """``DELETE /generations/{id}`` (204). A generation Luma no longer knows counts as gone."""
    if task.vendor_ref is None:
        return
    try:
        await _call(channel, http, "DELETE", f"/generations/{task.vendor_ref.id}")
    except UpstreamError as error:
        if error.kind is not FailureKind.NOT_FOUND:
            raise
