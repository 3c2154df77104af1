"""The OpenAPI description of the derived-video and character routes, and of a model's ``x_reelay``.

Kept beside :mod:`reelay.http.openapi`, which merges :data:`SCHEMAS` and
:data:`OPERATIONS` into its document.
"""

from __future__ import annotations

from typing import Any

_REF = "#/components/schemas/"


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + name}}}


_VIDEO_REFERENCE = {
    "anyOf": [
        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    ],
    "description": "`{id}` of a completed video of yours (a multipart body sends `video[id]` or a video file).",
}
_MODEL = {
    "type": "string",
    "description": "Reelay addition, for an uploaded video only: the model to use "
    "(default: the first of your models that can). A task's own model is used otherwise.",
}

SCHEMAS: dict[str, Any] = {
    "ExtendRequest": {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "description": "What happens next."},
            "seconds": {
                "type": "string",
                "pattern": "^[0-9]+$",
                "description": "The length of the continuation; see `x_reelay.operations.extension_seconds`.",
            },
            "video": _VIDEO_REFERENCE,
            "model": _MODEL,
        },
        "required": ["prompt", "seconds", "video"],
    },
    "EditRequest": {
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "minLength": 1, "description": "The change to make."},
            "video": _VIDEO_REFERENCE,
            "model": _MODEL,
        },
        "required": ["prompt", "video"],
    },
    "DerivedForm": {
        "type": "object",
        "description": "Multipart form: `prompt`, `seconds` (extensions), and `video` as a file or `video[id]`.",
        "properties": {
            "prompt": {"type": "string"},
            "seconds": {"type": "string"},
            "video": {"type": "string", "contentMediaType": "application/octet-stream"},
            "model": {"type": "string"},
        },
        "required": ["prompt", "video"],
    },
    "CharacterForm": {
        "type": "object",
        "description": "Multipart form: `name` (1-80 characters) and the `video` file.",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "video": {"type": "string", "contentMediaType": "application/octet-stream"},
            "model": _MODEL,
        },
        "required": ["name", "video"],
    },
    "Character": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "Use it in `characters: [{id}]` of a create."},
            "object": {"const": "video.character"},
            "name": {"type": "string"},
            "created_at": {"type": "integer", "description": "Unix seconds."},
            "model": {"type": "string", "description": "The model (and channel) the character belongs to."},
        },
        "required": ["id", "object", "name", "created_at", "model"],
    },
}

_TASK_EXAMPLE = {
    "id": "video_3kq9Xw0dT2bq1Z7m5YpHc4sN",
    "object": "video",
    "model": "sora-2",
    "status": "queued",
    "progress": 0,
    "created_at": 1767225600,
    "seconds": "12",
    "size": "720x1280",
    "prompt": "the fox runs off",
    "remixed_from_video_id": "video_8a06e19b408b4cf19b709d25",
}


def _derived(summary: str, description: str, request: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": ["OpenAI Videos"],
        "summary": summary,
        "description": description,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF + request}, "example": example},
                "multipart/form-data": {"schema": {"$ref": _REF + "DerivedForm"}},
            },
        },
        "responses": {
            "200": {
                "description": "The new task (its own id; `remixed_from_video_id` names the source)",
                "content": {"application/json": {"schema": {"$ref": _REF + "Task"}, "example": _TASK_EXAMPLE}},
            }
        },
        "errors": (400, 401, 403, 404, 409, 413, 502, 503),
    }


_CHARACTER_EXAMPLE = {
    "id": "char_Qm9zc3lGb3hPbmVUd29UaHJlZQ",
    "object": "video.character",
    "name": "Mossy",
    "created_at": 1767225600,
    "model": "sora-2",
}

OPERATIONS: dict[str, dict[str, Any]] = {
    "openai.extend": _derived(
        "Extend a completed video",
        "A new task continuing the video by `seconds`, on the source's channel; its `seconds` is the stitched "
        "total. 400 `not_supported` (naming the model) when the model cannot extend.",
        "ExtendRequest",
        {"prompt": "the fox runs off", "seconds": "8", "video": {"id": "video_8a06e19b408b4cf19b709d25"}},
    ),
    "openai.edit": _derived(
        "Edit a video",
        "A new task applying `prompt` to a completed video, or to an uploaded one. "
        "400 `not_supported` (naming the model) when the model cannot edit.",
        "EditRequest",
        {"prompt": "make the fox blue", "video": {"id": "video_8a06e19b408b4cf19b709d25"}},
    ),
    "openai.create_character": {
        "tags": ["OpenAI Videos"],
        "summary": "Create a character from a video",
        "description": 'Use the answer\'s id in `characters: [{"id": ...}]` of a create (and the name in its '
        "prompt); such requests run on the character's channel.",
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"$ref": _REF + "CharacterForm"}}},
        },
        "responses": {
            "200": {
                "description": "The character",
                "content": {
                    "application/json": {"schema": {"$ref": _REF + "Character"}, "example": _CHARACTER_EXAMPLE}
                },
            }
        },
        "errors": (400, 401, 403, 404, 413, 502, 503),
    },
    "openai.get_character": {
        "tags": ["OpenAI Videos"],
        "summary": "A character",
        "parameters": [{"name": "character_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {
                "description": "The character",
                "content": {
                    "application/json": {"schema": {"$ref": _REF + "Character"}, "example": _CHARACTER_EXAMPLE}
                },
            }
        },
        "errors": (401, 404, 502, 503),
    },
}
