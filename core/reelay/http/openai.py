"""The OpenAI Videos surface: the gateway as an OpenAI-Videos upstream.

Vendor-neutral: every installed vendor's models are reachable through it.
The official SDK sends multipart (``input_reference`` as a file, or the
form field ``input_reference[image_url]``); JSON bodies work too.
"""

from __future__ import annotations

import base64
from typing import Any

import attrs
from aiohttp import web

from ..errors import InvalidRequest
from ..images import sniff_image
from ..models import ImageInput, UnifiedRequest
from . import idempotent
from .common import (
    ROUTE_PREFIX,
    authenticate,
    content_url,
    dispatcher_of,
    json_response,
    multipart_body,
    multipart_parts,
    read_json,
    task_response,
)
from .wire import parse_unified_request, task_to_json

_MAX_LIST = 100


def setup_openai_routes(app: web.Application) -> None:
    router = app.router
    router.add_route("POST", "/v1/videos", create_video, name=ROUTE_PREFIX + "openai.create")
    router.add_get("/v1/videos", list_videos, name=ROUTE_PREFIX + "openai.list")
    router.add_route("DELETE", "/v1/videos/{task_id}", delete_video, name=ROUTE_PREFIX + "openai.delete")
    router.add_route("POST", "/v1/videos/{task_id}/remix", remix_video, name=ROUTE_PREFIX + "openai.remix")


async def create_video(request: web.Request) -> web.Response:
    token = authenticate(request)
    if request.content_type.startswith("multipart/"):
        async with multipart_body(request):
            unified = await _read_multipart(request)
    else:
        body = await read_json(request)
        if isinstance(body, dict) and isinstance(body.get("input_reference"), dict):
            body = dict(body)
            body["input_reference"] = _reference_url(body["input_reference"])
        unified = parse_unified_request(body)
    return await idempotent.submit(request, token, unified)


def _reference_url(reference: dict[str, Any]) -> str:
    if isinstance(reference.get("image_url"), str):
        return reference["image_url"]
    if "file_id" in reference:
        raise InvalidRequest(
            "input_reference.file_id is not supported; send image_url or a file", param="input_reference"
        )
    raise InvalidRequest("input_reference must be {image_url: ...} or a file", param="input_reference")


async def _read_multipart(request: web.Request) -> UnifiedRequest:
    fields: dict[str, Any] = {}
    uploads: list[ImageInput] = []
    async for part, data in multipart_parts(request):
        name = part.name or ""
        if part.filename is not None:
            if name != "input_reference":
                raise InvalidRequest(f"unexpected file field {name!r}; send the image as input_reference", param=name)
            encoded = base64.b64encode(data).decode()
            mime = sniff_image(data) or part.headers.get("Content-Type")  # the bytes decide, not the label
            uploads.append(ImageInput(base64=encoded, mime_type=mime, filename=part.filename))
            continue
        text = data.decode("utf-8", errors="replace")
        if name in ("input_reference[image_url]", "input_reference"):
            fields.setdefault("input_reference", []).append(text)
        elif name == "characters" or (name.startswith("characters[") and name.endswith("]")):
            fields.setdefault("characters", []).append(text)  # characters[][id], characters[0][id]
        elif name in ("images", "images[]"):
            fields.setdefault("images", []).append(text)
        elif name.startswith("metadata[") and name.endswith("]"):
            fields.setdefault("metadata", {})[name[9:-1]] = text
        elif name == "input_reference[file_id]":
            raise InvalidRequest("input_reference file_id is not supported; send image_url or a file", param=name)
        else:
            fields[name] = text
    unified = parse_unified_request(fields)
    if uploads:
        unified = attrs.evolve(unified, uploads=tuple(uploads))
    return unified


async def list_videos(request: web.Request) -> web.Response:
    token = authenticate(request)
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= _MAX_LIST:
        raise InvalidRequest(f"limit must be between 1 and {_MAX_LIST}", param="limit")
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be asc or desc", param="order")
    after = request.query.get("after") or None
    tasks = await dispatcher_of(request).list_tasks(token, limit=limit + 1, after=after, descending=order == "desc")
    page = tasks[:limit]
    data = [task_to_json(task, content_url(request, task)) for task in page]
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": len(tasks) > limit,
        }
    )


async def delete_video(request: web.Request) -> web.Response:
    token = authenticate(request)
    task_id = request.match_info["task_id"]
    await dispatcher_of(request).delete(token, task_id)
    return json_response({"id": task_id, "object": "video.deleted", "deleted": True})


async def remix_video(request: web.Request) -> web.Response:
    token = authenticate(request)
    if request.content_type.startswith("multipart/"):
        async with multipart_body(request):
            form = await request.post()
        prompt = form.get("prompt")
    else:
        body = await read_json(request)
        prompt = body.get("prompt") if isinstance(body, dict) else None
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt", code="missing_prompt")
    task = await dispatcher_of(request).remix(token, request.match_info["task_id"], prompt)
    return task_response(request, task)
