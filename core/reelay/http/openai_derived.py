"""The rest of the OpenAI Videos surface: extensions, edits and characters.

Shapes as OpenAI's (and the official SDK's): the SDK sends multipart, with
``video`` either a file part or the field ``video[id]``; JSON bodies take
``video`` as ``{"id": ...}``. ``model`` is a Reelay addition, needed only
for an uploaded video (a task's own model is used otherwise): without it,
the first of the token's models that can is used.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import InvalidRequest
from ..models import Character, SourceVideo
from .common import (
    ROUTE_PREFIX,
    authenticate,
    dispatcher_of,
    json_response,
    multipart_body,
    multipart_parts,
    read_json,
    task_response,
)

#: Where the video comes from: a task id, or the uploaded bytes.
Video = SourceVideo | str


def setup_derived_routes(app: web.Application) -> None:
    router = app.router
    router.add_route("POST", "/v1/videos/extensions", extend_video, name=ROUTE_PREFIX + "openai.extend")
    router.add_route("POST", "/v1/videos/edits", edit_video, name=ROUTE_PREFIX + "openai.edit")
    router.add_route("POST", "/v1/videos/characters", create_character, name=ROUTE_PREFIX + "openai.create_character")
    router.add_get("/v1/videos/characters/{character_id}", get_character, name=ROUTE_PREFIX + "openai.get_character")


async def extend_video(request: web.Request) -> web.Response:
    token = authenticate(request)
    fields, video = await _read_body(request)
    prompt = _prompt(fields)
    seconds = _seconds(fields.get("seconds"))
    task = await dispatcher_of(request).extend(token, _required_video(video), prompt, seconds, _model(fields))
    return task_response(request, task)


async def edit_video(request: web.Request) -> web.Response:
    token = authenticate(request)
    fields, video = await _read_body(request)
    prompt = _prompt(fields)
    task = await dispatcher_of(request).edit(token, _required_video(video), prompt, _model(fields))
    return task_response(request, task)


async def create_character(request: web.Request) -> web.Response:
    token = authenticate(request)
    fields, video = await _read_body(request)
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required", param="name", code="missing_required_parameter")
    if not isinstance(video, SourceVideo):
        raise InvalidRequest("video must be an uploaded video file", param="video", code="missing_required_parameter")
    character = await dispatcher_of(request).create_character(token, name, video, _model(fields))
    return json_response(character_to_json(character))


async def get_character(request: web.Request) -> web.Response:
    token = authenticate(request)
    character = await dispatcher_of(request).get_character(token, request.match_info["character_id"])
    return json_response(character_to_json(character))


def character_to_json(character: Character) -> dict[str, Any]:
    """The public character object: never the vendor's id."""
    return {
        "id": character.id,
        "object": "video.character",
        "name": character.name,
        "created_at": int(character.created_at),
        "model": character.model,
    }


# ---------------------------------------------------------------- bodies


def _prompt(fields: dict[str, Any]) -> str:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidRequest("prompt is required", param="prompt", code="missing_required_parameter")
    return prompt


def _seconds(value: Any) -> int:
    if value is None:
        raise InvalidRequest("seconds is required", param="seconds", code="missing_required_parameter")
    text = str(value).strip().removesuffix("s") if not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or int(text) <= 0:
        raise InvalidRequest(f"seconds must be a positive whole number, not {value!r}", param="seconds")
    return int(text)


def _model(fields: dict[str, Any]) -> str | None:
    model = fields.get("model")
    if model is None or model == "":
        return None
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string", param="model")
    return model


def _required_video(video: Video | None) -> Video:
    if video is None:
        raise InvalidRequest(
            "video is required: {id} of a completed video, or a video file",
            param="video",
            code="missing_required_parameter",
        )
    return video


async def _read_body(request: web.Request) -> tuple[dict[str, Any], Video | None]:
    """The text fields and the video (a task id or an upload) of a JSON or multipart body."""
    if request.content_type.startswith("multipart/"):
        async with multipart_body(request):
            return await _read_multipart(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    video = body.get("video")
    if video is None:
        return body, None
    if isinstance(video, dict) and isinstance(video.get("id"), str) and video["id"]:
        return body, video["id"]
    raise InvalidRequest('video must be {"id": "<video id>"} (or a file, in a multipart body)', param="video")


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], Video | None]:
    fields: dict[str, Any] = {}
    video: Video | None = None
    async for part, data in multipart_parts(request):
        name = part.name or ""
        if part.filename is not None:
            if name != "video":
                raise InvalidRequest(f"unexpected file field {name!r}; send the video as video", param=name)
            if not data:
                raise InvalidRequest("the video file is empty", param="video")
            mime = part.headers.get("Content-Type") or "application/octet-stream"
            video = SourceVideo(data=data, filename=part.filename, mime_type=mime)
        elif name in ("video[id]", "video"):
            video = data.decode("utf-8", errors="replace")
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return fields, video
