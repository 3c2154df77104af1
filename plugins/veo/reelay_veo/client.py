"""Calls to Veo on either form: submit, poll an operation, locate the video."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import attrs
from yarl import URL

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    InvalidRequest,
    SourceVideo,
    Task,
    UpstreamError,
    VendorRef,
    VideoResult,
)
from reelay.fetch import fetch_image
from reelay.upstream import join_url, request_json

from . import wire
from .auth import VeoChannel, access_token, auth_headers, channel_config, scrub
from .models import SIZES, ApiForm
from .wire import VeoPayload

VENDOR_NAME = "Veo"
OPERATIONS_MARK = "/operations/"


async def submit(payload: VeoPayload, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
    """Fetch URL images, send ``predictLongRunning`` and keep the operation's whole name."""
    config = channel_config(channel)
    if payload.unavailable is not None:
        raise UpstreamError(FailureKind.CHANNEL, payload.unavailable, code="model_not_on_channel")
    payload = await _inline_images(payload, config, http)
    body = wire.request_body(payload)
    if config.api is ApiForm.GEMINI:
        url = join_url(config.base_url, f"/v1beta/models/{payload.model}:predictLongRunning")
    else:
        url = join_url(config.base_url, f"{config.vertex_model_path(payload.model)}:predictLongRunning")
    headers = await auth_headers(channel, config)
    response = await request_json(http, "POST", url, vendor=VENDOR_NAME, headers=headers, json_body=body)
    if not response.ok:
        raise _scrubbed(
            wire.upstream_error(
                response.status, response.body, model=payload.model, retry_after=response.retry_after()
            ),
            channel,
        )
    name = wire.parse_operation(response.body).name
    if not name:
        raise UpstreamError(FailureKind.TRANSIENT, "Veo accepted the request without an operation name")
    return VendorRef(id=name, data={"api": config.api.value, "model": payload.model})


async def extend(
    source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
) -> VendorRef:
    """Veo 3.1's video extension: ``instances[0].video`` is the earlier generation; 720p, 8 s asked, 7 s added."""
    task = source.task
    if task is None or task.vendor_ref is None or task.result is None:
        raise InvalidRequest("Veo extends only videos it generated: send {id} of a completed Veo video", param="video")
    config = channel_config(channel)
    aspect, resolution = SIZES.get(task.size or "1280x720", ("16:9", "720p"))
    if (resolution or "720p") != "720p":
        raise InvalidRequest(f"Veo extends 720p videos only; this one is {task.size}", param="video")
    model = str(task.vendor_ref.data.get("model") or task.model)
    parameters: dict[str, Any] = {
        "sampleCount": 1,
        "durationSeconds": wire.EXTENSION_DURATION_SECONDS,
        "aspectRatio": aspect,
        "resolution": "720p",
    }
    if config.api is ApiForm.VERTEX:
        parameters["generateAudio"] = True
    video = await _source_video(task.result, config.api)
    body = {"instances": [{"prompt": prompt, "video": video}], "parameters": parameters}
    return await _predict(body, model, config, channel, http)


async def _source_video(result: VideoResult, api: ApiForm) -> dict[str, str]:
    """The earlier video as the form's ``Video``: its location where Google has it, else its bytes."""
    url = result.url or ""
    if api is ApiForm.GEMINI and url.startswith(("http://", "https://")):
        return {"uri": url}
    if api is ApiForm.VERTEX and url.startswith("gs://"):
        return {"gcsUri": url, "mimeType": result.mime_type}
    if result.path:
        data = await asyncio.to_thread(Path(result.path).read_bytes)
        encoded = base64.b64encode(data).decode()
        if api is ApiForm.GEMINI:
            return {"encodedVideo": encoded, "encoding": result.mime_type}
        return {"bytesBase64Encoded": encoded, "mimeType": result.mime_type}
    raise UpstreamError(FailureKind.NOT_FOUND, "the earlier Veo video is no longer available", code="video_gone")


async def _predict(
    body: dict[str, Any], model: str, config: VeoChannel, channel: Channel, http: aiohttp.ClientSession
) -> VendorRef:
    if config.api is ApiForm.GEMINI:
        url = join_url(config.base_url, f"/v1beta/models/{model}:predictLongRunning")
    else:
        url = join_url(config.base_url, f"{config.vertex_model_path(model)}:predictLongRunning")
    headers = await auth_headers(channel, config)
    response = await request_json(http, "POST", url, vendor=VENDOR_NAME, headers=headers, json_body=body)
    if not response.ok:
        raise _scrubbed(
            wire.upstream_error(response.status, response.body, model=model, retry_after=response.retry_after()),
            channel,
        )
    name = wire.parse_operation(response.body).name
    if not name:
        raise UpstreamError(FailureKind.TRANSIENT, "Veo accepted the request without an operation name")
    return VendorRef(id=name, data={"api": config.api.value, "model": model})


async def _inline_images(payload: VeoPayload, config: VeoChannel, http: aiohttp.ClientSession) -> VeoPayload:
    """Veo takes bytes, not URLs: download each URL image (refusing internal addresses)."""

    async def inline(param: str, image: Any) -> Any:
        if image is None or image.url is None:
            return image
        fetched = await fetch_image(http, image.url, param=param, allow_loopback=config.allow_loopback_images)
        wire.check_image(fetched, param)
        return fetched

    first, last, *references = await asyncio.gather(
        inline("image", payload.first_frame),
        inline("images[1]", payload.last_frame),
        *(inline(f"metadata.referenceImages[{i}]", image) for i, image in enumerate(payload.reference_images)),
    )
    return attrs.evolve(payload, first_frame=first, last_frame=last, reference_images=tuple(references))


async def fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
    """The operation as Google reports it now."""
    if task.vendor_ref is None:  # Google cannot look an operation up by our id
        raise UpstreamError(FailureKind.NOT_FOUND, "Veo has no operation for this task yet")
    config = channel_config(channel)
    name = _operation_name(task.vendor_ref.id)
    headers = await auth_headers(channel, config)
    if config.api is ApiForm.GEMINI:
        url = join_url(config.base_url, f"/v1beta/{name}")
        response = await request_json(http, "GET", url, vendor=VENDOR_NAME, headers=headers)
    else:
        resource = name.rpartition(OPERATIONS_MARK)[0]
        url = join_url(config.base_url, f"/v1/{resource}:fetchPredictOperation")
        body = {"operationName": name}
        response = await request_json(http, "POST", url, vendor=VENDOR_NAME, headers=headers, json_body=body)
    if not response.ok:
        raise _scrubbed(
            wire.upstream_error(response.status, response.body, polling=True, retry_after=response.retry_after()),
            channel,
        )
    return response.body


async def open_content(task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str) -> ContentSource:
    """Where the finished video is: Gemini's file URI (with the key) or a Cloud Storage object."""
    if variant != "video":
        raise InvalidRequest(f"Veo has no {variant!r} variant; use 'video'", param="variant")
    result = task.result
    if result is None or not result.url:
        raise UpstreamError(FailureKind.NOT_FOUND, "Veo returned no video location for this task")
    config = channel_config(channel)
    if result.url.startswith("gs://"):
        bucket, _, obj = result.url.removeprefix("gs://").partition("/")
        if not bucket or not obj:
            raise UpstreamError(FailureKind.NOT_FOUND, "Veo returned a malformed Cloud Storage location")
        url = join_url(config.storage_url, f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(obj, safe='')}")
        headers = {"Authorization": f"Bearer {await access_token(channel)}"}
        return ContentSource(url=f"{url}?alt=media", headers=headers, mime_type=result.mime_type)
    headers = await auth_headers(channel, config) if _same_service(result.url, config.base_url) else {}
    return ContentSource(url=result.url, headers=headers, mime_type=result.mime_type)


def _same_service(url: str, base_url: str) -> bool:
    """Only Google (or the configured endpoint itself) is sent the channel's credentials."""
    target, base = URL(url), URL(base_url)
    if target.scheme not in ("http", "https"):
        return False
    if target.origin() == base.origin():
        return True
    host = target.raw_host or ""
    return target.scheme == "https" and (host == "googleapis.com" or host.endswith(".googleapis.com"))


def _operation_name(name: str) -> str:
    # The name is Google's and is used verbatim in the path; refuse anything
    # that could step outside it.
    if not name or name.startswith("/") or any(part in name for part in ("..", "?", "#", "//", "\\")):
        raise UpstreamError(FailureKind.NOT_FOUND, "the stored Veo operation name is malformed")
    return name


def _scrubbed(error: UpstreamError, channel: Channel) -> UpstreamError:
    error.message = scrub(error.message, channel)
    error.args = (error.message,)
    return error
