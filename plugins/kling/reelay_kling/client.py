"""Calls to Kling: submit a task, query it, find its video.

Each coroutine signs its own JWT, so a token never outlives a request.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    GenerationRequest,
    InvalidRequest,
    Task,
    UpstreamError,
    VendorRef,
)
from reelay.upstream import join_url, request_json

from .auth import auth_headers
from .wire import Family, KlingPayload, parse_envelope, parse_task, upstream_error

VENDOR_NAME = "Kling"


async def submit(payload: KlingPayload, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
    """Create the task; the reference remembers the family it lives on."""
    url = _url(channel, payload.family.path)
    response = await request_json(
        http, "POST", url, vendor=VENDOR_NAME, headers=auth_headers(channel), json_body=dict(payload.body)
    )
    data = _success_data(response.status, response.body, response.retry_after())
    task = parse_task(data)
    if not task.task_id:
        raise UpstreamError(FailureKind.TRANSIENT, "Kling accepted the task without a task_id")
    return VendorRef(id=task.task_id, data={"family": payload.family.value})


async def fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
    """The task's envelope from Kling."""
    if task.vendor_ref is None:
        raise UpstreamError(FailureKind.NOT_FOUND, "no Kling task id was recorded for this task")
    family = Family(task.vendor_ref.data.get("family", Family.TEXT2VIDEO))
    return await _query(channel, http, family, task.vendor_ref.id)


async def find_submission(task: Task, channel: Channel, http: aiohttp.ClientSession) -> VendorRef | None:
    """The Kling task an interrupted submission created, found by its external id (the gateway's task id).

    Kling stores ``external_task_id`` with the task and answers queries by it,
    so finding none means Kling never received the task (the search is
    authoritative: :attr:`VENDOR_SPEC.search_authoritative`).
    """
    for family in _families(task.request):
        try:
            envelope = await _query(channel, http, family, task.id)
        except UpstreamError as error:
            if error.kind is not FailureKind.NOT_FOUND:
                raise
            continue
        found = parse_task(envelope)
        if found.task_id:
            return VendorRef(id=found.task_id, data={"family": family.value})
    return None


async def open_content(task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str) -> ContentSource:
    """Kling's CDN URL for the video; it needs no credentials."""
    if variant != "video":
        raise InvalidRequest(f"Kling has no {variant!r} variant; use 'video'", param="variant")
    url = task.result.url if task.result is not None else None
    if not url:
        envelope = await fetch_status(task, channel, http)
        result = parse_task(envelope).task_result
        url = result.videos[0].url if result is not None and result.videos else None
    if not url:
        raise UpstreamError(FailureKind.NOT_FOUND, "Kling has no video for this task")
    return ContentSource(url=url, mime_type="video/mp4")


async def _query(channel: Channel, http: aiohttp.ClientSession, family: Family, task_id: str) -> Any:
    url = _url(channel, f"{family.path}/{task_id}")
    response = await request_json(http, "GET", url, vendor=VENDOR_NAME, headers=auth_headers(channel))
    _success_data(response.status, response.body, response.retry_after(), lookup=True)
    return response.body


def _families(request: GenerationRequest | None) -> tuple[Family, ...]:
    if request is None:
        return (Family.TEXT2VIDEO, Family.IMAGE2VIDEO)
    return (Family.IMAGE2VIDEO,) if request.is_image_to_video else (Family.TEXT2VIDEO,)


def _success_data(status: int, body: Any, retry_after: float | None, *, lookup: bool = False) -> Any:
    """``data`` of a successful envelope, or the mapped failure."""
    if not 200 <= status < 300:
        raise upstream_error(status, body, retry_after=retry_after, lookup=lookup)
    envelope = parse_envelope(body)
    if envelope.code != 0:
        raise upstream_error(status, body, retry_after=retry_after, lookup=lookup)
    return envelope.data


def _url(channel: Channel, path: str) -> str:
    return join_url(channel.base_url, path)
