"""The adapter: calls to ``{base_url}/v1/videos`` with one channel's credentials."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from typing import Any

import aiohttp

from reelay import (
    Channel,
    ContentSource,
    FailureKind,
    InvalidRequest,
    SourceVideo,
    UpstreamError,
    VendorRef,
)
from reelay.upstream import JsonResponse, join_url, request_json

from . import wire
from .models import CONTENT_VARIANTS, VENDOR

#: Inline uploads larger than this are decoded off the event loop.
_DECODE_IN_THREAD_BYTES = 256 * 1024


class SoraClient:
    """One channel's view of an OpenAI-Videos endpoint (OpenAI, Azure, a gateway)."""

    def __init__(self, channel: Channel, http: aiohttp.ClientSession):
        self.channel = channel
        self.http = http

    # ------------------------------------------------------------ plumbing

    def url(self, path: str = "") -> str:
        """``{base_url}/v1/videos{path}``; a base URL already ending in ``/v1`` is not doubled."""
        base = self.channel.base_url.rstrip("/")
        root = base if base.endswith("/v1") else join_url(base, "/v1")
        return join_url(root, "/videos" + path)

    def headers(self) -> dict[str, str]:
        credentials = self.channel.credentials
        api_key = credentials.get("api_key")
        if not api_key:
            raise UpstreamError(
                FailureKind.CHANNEL, f"channel {self.channel.name!r} has no api_key", code="channel_misconfigured"
            )
        headers = {"Authorization": f"Bearer {api_key}"}
        if credentials.get("organization"):
            headers["OpenAI-Organization"] = credentials["organization"]
        if credentials.get("project"):
            headers["OpenAI-Project"] = credentials["project"]
        return headers

    def _secrets(self) -> tuple[str, ...]:
        return tuple(value for value in self.channel.credentials.values() if value)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        on_404: FailureKind = FailureKind.CALLER,
        **kwargs: Any,
    ) -> JsonResponse:
        response = await request_json(
            self.http, method, self.url(path), vendor=VENDOR, headers=self.headers(), **kwargs
        )
        if not response.ok:
            raise wire.upstream_error(response, action=action, secrets=self._secrets(), on_404=on_404)
        return response

    # ------------------------------------------------------------ calls

    async def create(self, payload: wire.CreateVideo) -> VendorRef:
        """``POST /v1/videos``: JSON, or multipart when the image is an uploaded file."""
        if payload.is_multipart:
            response = await self._call("POST", "", action="create a video", data=await _form(payload))
        else:
            response = await self._call("POST", "", action="create a video", json_body=wire.payload_json(payload))
        return VendorRef(wire.parse_video(response.body).id)

    async def retrieve(self, video_id: str) -> Any:
        """``GET /v1/videos/{id}``: the raw video object (a 404 means the video is gone)."""
        response = await self._call("GET", f"/{video_id}", action="read a video", on_404=FailureKind.NOT_FOUND)
        return response.body

    async def delete(self, video_id: str) -> None:
        """``DELETE /v1/videos/{id}``; a video that is already gone counts as deleted."""
        try:
            await self._call("DELETE", f"/{video_id}", action="delete a video", on_404=FailureKind.NOT_FOUND)
        except UpstreamError as error:
            if error.kind is not FailureKind.NOT_FOUND:
                raise

    async def remix(self, video_id: str, prompt: str) -> VendorRef:
        """``POST /v1/videos/{id}/remix``: a new video from a completed one."""
        if not prompt or not prompt.strip():
            raise InvalidRequest("a remix needs a prompt", param="prompt", code="missing_prompt")
        if len(prompt) > wire.MAX_PROMPT_CHARS:
            raise InvalidRequest(f"prompt is longer than {wire.MAX_PROMPT_CHARS} characters", param="prompt")
        response = await self._call("POST", f"/{video_id}/remix", action="remix a video", json_body={"prompt": prompt})
        return VendorRef(wire.parse_video(response.body).id)

    async def extend(self, video: SourceVideo, prompt: str, seconds: int) -> VendorRef:
        """``POST /v1/videos/extensions``: ``seconds`` more of a completed video (or an upload)."""
        return await self._derive("/extensions", "extend a video", video, {"prompt": prompt, "seconds": str(seconds)})

    async def edit(self, video: SourceVideo, prompt: str) -> VendorRef:
        """``POST /v1/videos/edits``: ``prompt`` applied to a completed video (or an upload)."""
        return await self._derive("/edits", "edit a video", video, {"prompt": prompt})

    async def _derive(self, path: str, action: str, video: SourceVideo, fields: dict[str, str]) -> VendorRef:
        _check_prompt(fields["prompt"])
        if video.data is not None:
            form = _video_form(fields, video)
            response = await self._call("POST", path, action=action, data=form)
        else:
            assert video.task is not None
            body = {**fields, "video": {"id": _vendor_id(video)}}
            response = await self._call("POST", path, action=action, json_body=body)
        return VendorRef(wire.parse_video(response.body).id)

    async def create_character(self, name: str, video: SourceVideo) -> VendorRef:
        """``POST /v1/videos/characters`` (multipart ``name`` and the ``video`` file)."""
        if video.data is None:
            raise InvalidRequest("a character is made from an uploaded video file", param="video")
        response = await self._call(
            "POST", "/characters", action="create a character", data=_video_form({"name": name}, video)
        )
        body = response.body if isinstance(response.body, dict) else {}
        if not isinstance(body.get("id"), str):
            raise UpstreamError(FailureKind.TRANSIENT, "the character answer carried no id", code="bad_upstream_answer")
        return VendorRef(body["id"], {"name": body.get("name"), "created_at": body.get("created_at")})

    async def get_character(self, character_id: str) -> Any:
        """``GET /v1/videos/characters/{id}`` (a 404 means the character is gone)."""
        response = await self._call(
            "GET", f"/characters/{character_id}", action="read a character", on_404=FailureKind.NOT_FOUND
        )
        return response.body

    def content(self, video_id: str, variant: str) -> ContentSource:
        """Where the core reads a variant from: the content endpoint with this channel's key."""
        mime_type = CONTENT_VARIANTS.get(variant)
        if mime_type is None:
            raise InvalidRequest(
                f"variant {variant!r} is not offered; choose one of: {', '.join(CONTENT_VARIANTS)}",
                param="variant",
                code="invalid_variant",
            )
        return ContentSource(
            url=self.url(f"/{video_id}/content?variant={variant}"), headers=self.headers(), mime_type=mime_type
        )


def _check_prompt(prompt: str) -> None:
    if not prompt or not prompt.strip():
        raise InvalidRequest("a prompt is required", param="prompt", code="missing_prompt")
    if len(prompt) > wire.MAX_PROMPT_CHARS:
        raise InvalidRequest(f"prompt is longer than {wire.MAX_PROMPT_CHARS} characters", param="prompt")


def _vendor_id(video: SourceVideo) -> str:
    task = video.task
    if task is None or task.vendor_ref is None:
        raise UpstreamError(FailureKind.NOT_FOUND, "the source video has no OpenAI video id", code="no_vendor_ref")
    return task.vendor_ref.id


def _video_form(fields: dict[str, str], video: SourceVideo) -> aiohttp.FormData:
    assert video.data is not None
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field(
        "video",
        io.BytesIO(video.data),
        filename=video.filename or "video.mp4",
        content_type=video.mime_type or "video/mp4",
    )
    return form


async def _form(payload: wire.CreateVideo) -> aiohttp.FormData:
    image = payload.upload
    assert image is not None and image.base64 is not None
    try:
        if len(image.base64) > _DECODE_IN_THREAD_BYTES:
            data = await asyncio.to_thread(base64.b64decode, image.base64)
        else:
            data = base64.b64decode(image.base64)
    except (binascii.Error, ValueError):
        raise InvalidRequest("input_reference is not valid base64", param="input_reference") from None
    form = aiohttp.FormData()
    for name, value in wire.payload_form_fields(payload).items():
        form.add_field(name, value)
    form.add_field(
        "input_reference",
        io.BytesIO(data),  # a stream, so aiohttp neither copies nor warns about a large bytes body
        filename=image.filename or "input_reference",
        content_type=wire.image_mime_type(image) or "application/octet-stream",
    )
    return form
