"""Calls to Runway: create a task, read it, find its video, cancel it.

Every request carries the channel's key as a Bearer token and the pinned
``X-Runway-Version``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from reelay import Channel, ContentSource, FailureKind, InvalidRequest, Task, UpstreamError, VendorRef
from reelay.upstream import join_url, request_json

from .wire import API_VERSION, RunwayPayload, created_id, parse_task, upstream_error

VENDOR_NAME = "Runway"


def headers(channel: Channel) -> dict[str, str]:
    key = channel.credentials.get("api_key")
    if not key:
        raise UpstreamError(
            FailureKind.CHANNEL, f"channel {channel.name!r} has no api_key for Runway", code="channel_misconfigured"
        )
    return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}


async def submit(payload: RunwayPayload, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
    url = join_url(channel.base_url, payload.endpoint.path)
    response = await request_json(
        http, "POST", url, vendor=VENDOR_NAME, headers=headers(channel), json_body=dict(payload.body)
    )
    if not response.ok:
        raise upstream_error(response.status, response.body, retry_after=response.retry_after())
    return VendorRef(id=created_id(response.body), data={"endpoint": payload.endpoint.value})


async def fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
    """The task object; Runway cannot find a task by the gateway's id, so without one the core resubmits."""
    if task.vendor_ref is None:
        raise UpstreamError(FailureKind.NOT_FOUND, "no Runway task id was recorded")
    url = join_url(channel.base_url, f"/v1/tasks/{task.vendor_ref.id}")
    response = await request_json(http, "GET", url, vendor=VENDOR_NAME, headers=headers(channel))
    if not response.ok:
        raise upstream_error(response.status, response.body, retry_after=response.retry_after(), lookup=True)
    return response.body


async def open_content(task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str) -> ContentSource:
    """The signed output URL; it carries its own token, so no headers go with it."""
    if variant != "video":
        raise InvalidRequest(f"Runway has no {variant!r} variant; use 'video'", param="variant")
    url = task.result.url if task.result is not None else None
    if not url:
        output = parse_task(await fetch_status(task, channel, http)).output
        url = output[0] if output else None
    if not url:
        raise UpstreamError(FailureKind.NOT_FOUND, "Runway has no output for this task")
    return ContentSource(url=url, mime_type="video/mp4")


async def cancel(task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
    """``DELETE /v1/tasks/{id}``: cancels a running task (a finished one is deleted)."""
    if task.vendor_ref is None:
        return  # never reached Runway: nothing to cancel there
    url = join_url(channel.base_url, f"/v1/tasks/{task.vendor_ref.id}")
    response = await request_json(http, "DELETE", url, vendor=VENDOR_NAME, headers=headers(channel))
    if response.ok or response.status == 404:  # 404: already gone upstream
        return
    raise upstream_error(response.status, response.body, retry_after=response.retry_after())
