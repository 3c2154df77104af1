"""Calls to Kling: submit a task, query it, find its video, extend a video.

Each coroutine signs its own JWT, so a token never outlives a request.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    GenerationRequest,
    InvalidRequest,
    SourceVideo,
    Task,
    UpstreamError,
    VendorRef,
)
from reelay.upstream import join_url, request_json

from .auth import auth_headers
from .models import MAX_EXTENDED_SECONDS, RETENTION_DAYS
from .wire import Family, KlingPayload, extend_body, parse_envelope, parse_task, upstream_error

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


async def extend(
    source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
) -> VendorRef:
    """``POST /v1/videos/video-extend``: 4 to 5 more seconds of a Kling video, with its model and mode.

    Kling extends only videos it generated on the same account (the core runs
    the extension on the source's channel): ``video_id`` is the source's
    ``task_result.videos[0].id``. The new task lives on the video-extend
    family, which its status queries use. Its result is the whole extended
    video.
    """
    task = source.task
    if task is None or task.vendor_ref is None:
        raise InvalidRequest(
            "Kling extends only videos it generated: send {id} of a completed Kling video", param="video"
        )
    if task.created_at and time.time() - task.created_at > RETENTION_DAYS * 86400:
        raise InvalidRequest(
            f"Kling deletes videos {RETENTION_DAYS} days after generation; task {task.id} can no longer be extended",
            param="video",
            code="video_expired",
        )
    so_far = task.result.duration if task.result is not None and task.result.duration else task.seconds
    if so_far is not None and so_far + seconds > MAX_EXTENDED_SECONDS:
        raise InvalidRequest(
            f"Kling extends videos up to {MAX_EXTENDED_SECONDS} seconds in all; this one is already {so_far:g}",
            param="video",
        )
    body = extend_body(await _video_id(task, channel, http), prompt)
    response = await request_json(
        http,
        "POST",
        _url(channel, Family.VIDEO_EXTEND.path),
        vendor=VENDOR_NAME,
        headers=auth_headers(channel),
        json_body=body,
    )
    created = parse_task(_success_data(response.status, response.body, response.retry_after()))
    if not created.task_id:
        raise UpstreamError(FailureKind.TRANSIENT, "Kling accepted the extension without a task_id")
    return VendorRef(id=created.task_id, data={"family": Family.VIDEO_EXTEND.value})


async def _video_id(task: Task, channel: Channel, http: aiohttp.ClientSession) -> str:
    """Kling's id of the task's video: kept in the result's extras, else asked of Kling."""
    known = task.result.extra.get("kling_video_id") if task.result is not None else None
    if isinstance(known, str) and known:
        return known
    result = parse_task(await fetch_status(task, channel, http)).task_result
    if result is None or not result.videos or not result.videos[0].id:
        raise UpstreamError(FailureKind.NOT_FOUND, "Kling has no video for this task", code="video_gone")
    return result.videos[0].id


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
