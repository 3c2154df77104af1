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
    Task,
    UpstreamError,
    VendorRef,
)
from reelay.upstream import JsonResponse, join_url, request_json

from . import wire
from .models import CONTENT_VARIANTS, MODELS, VENDOR

#: Inline uploads larger than this are decoded off the event loop.
_DECODE_IN_THREAD_BYTES = 256 * 1024
#: An interrupted submission's video was created this long before the task was
#: recorded at the earliest (the two clocks differ), and this long after at the latest.
FIND_BEFORE_SECONDS = 300
FIND_AFTER_SECONDS = 900
#: Pages of ``GET /v1/videos`` read at most when searching, 100 videos each.
FIND_PAGES = 10


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

    async def find(self, task: Task) -> VendorRef | None:
        """The video an interrupted submission created, or None.

        OpenAI cannot look a video up by the gateway's id, so this reads
        ``GET /v1/videos`` newest first and takes the video created closest
        after the task was recorded (within :data:`FIND_BEFORE_SECONDS` before
        and :data:`FIND_AFTER_SECONDS` after) with the task's model and
        prompt: a retry the caller sent later was created later.
        """
        prompt = task.request.prompt if task.request is not None else task.prompt
        models = self._model_names(task)
        earliest, latest = task.created_at - FIND_BEFORE_SECONDS, task.created_at + FIND_AFTER_SECONDS
        matches: list[wire.Video] = []
        after: str | None = None
        for _ in range(FIND_PAGES):
            params = {"limit": "100", "order": "desc", **({"after": after} if after else {})}
            response = await self._call("GET", "", action="list videos", params=params)
            page = wire.parse_video_list(response.body)
            for video in page.data:
                created = video.created_at or 0
                if earliest <= created <= latest and video.prompt == prompt and video.model in models:
                    matches.append(video)
            oldest = page.data[-1].created_at if page.data else None
            if not page.has_more or not page.data or (oldest is not None and oldest < earliest):
                break
            after = page.last_id or page.data[-1].id
        if not matches:
            return None
        # The video was created as the task was recorded, a caller's retry later: take the
        # oldest created since (OpenAI's times are whole seconds; the list is newest first),
        # else, when the vendor's clock is behind, the closest.
        since = [video for video in matches if (video.created_at or 0) >= int(task.created_at) - 1]
        closest = min(matches, key=lambda video: abs((video.created_at or 0) - task.created_at))
        best = since[-1] if since else closest
        return VendorRef(best.id)

    def _model_names(self, task: Task) -> set[str]:
        """The names the upstream may report for the task's model (its own, mapped, pinned snapshot)."""
        names = {task.model}
        spec = next((model for model in MODELS if model.name == task.model), None)
        if spec is not None:
            names.add(self.channel.upstream_model(spec))
        if task.request is not None and task.request.requested_model:
            names.add(task.request.requested_model)
        return names

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
