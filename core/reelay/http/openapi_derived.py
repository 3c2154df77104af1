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

_LIST = {"type": "array"}
_X_REELAY = {
    "type": "object",
    "description": "What the model accepts and can do (Reelay's extension of OpenAI's model object).",
    "properties": {
        "vendor": {"type": "string"},
        "modes": {
            **_LIST,
            "items": {"enum": ["text-to-video", "image-to-video"]},
            "description": "What the model generates from; a model without text-to-video needs an image.",
        },
        "description": {"type": "string"},
        "aliases": {**_LIST, "items": {"type": "string"}},
        "capabilities": {
            "type": "object",
            "description": "`text_to_video`, `image_to_video`, `end_frame`, `max_reference_images`.",
        },
        "operations": {
            "type": "object",
            "description": "`remix`, `cancel`, `extend`, `edit`, `characters` (booleans) and `extension_seconds`.",
        },
        "durations": {**_LIST, "items": {"type": "integer"}},
        "default_duration": {"type": ["integer", "null"]},
        "sizes": {**_LIST, "items": {"type": "string"}},
        "default_size": {"type": ["string", "null"]},
        "duration_rules": {**_LIST, "description": "Durations allowed only at some sizes or with reference images."},
        "inputs": {"type": "object", "description": "Per kind of input (`text`, `image`, `first_last`)."},
        "precedence": {"type": "object", "description": "Which request fields win, as data and as `summary` lines."},
        "metadata_fields": {**_LIST, "items": {"type": "string"}},
        "limits": {"type": "object"},
        "typical_seconds": {"type": "number"},
        "price_per_second": {
            "type": "object",
            "description": "The model's `[[prices]]` entry (exact decimal text); absent when it has none.",
            "properties": {
                "amount": {"type": "string"},
                "per_request": {"type": "string"},
                "currency": {"type": "string"},
            },
        },
    },
    "required": ["vendor", "capabilities", "operations", "durations", "sizes", "inputs", "precedence"],
}
SCHEMAS["Model"] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "model"},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
        "x_reelay": _X_REELAY,
    },
    "required": ["id", "object", "created", "owned_by", "x_reelay"],
}
SCHEMAS["ModelList"] = {
    "type": "object",
    "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {"$ref": _REF + "Model"}}},
    "required": ["object", "data"],
}

MODEL_EXAMPLE = {
    "id": "example-1",
    "object": "model",
    "created": 0,
    "owned_by": "example",
    "x_reelay": {
        "vendor": "example",
        "capabilities": {"text_to_video": True, "image_to_video": True, "end_frame": False, "max_reference_images": 0},
        "operations": {
            "remix": True,
            "cancel": True,
            "extend": True,
            "edit": True,
            "characters": True,
            "extension_seconds": [4, 8, 12, 16, 20],
        },
        "durations": [4, 8, 12],
        "default_duration": 4,
        "sizes": ["1280x720", "720x1280"],
        "default_size": "720x1280",
        "inputs": {"text": {"durations": [4, 8, 12], "sizes": ["1280x720", "720x1280"], "prompt_required": True}},
        "precedence": {"duration_sources": ["seconds", "duration"], "summary": ["duration: seconds > duration"]},
    },
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
                "content": {"application/json": {"schema": {"$ref": _REF + "Task"}}},
            }
        },
        "errors": (400, 401, 403, 404, 409, 413, 502, 503),
    }


CHARACTER_EXAMPLE = {
    "id": "char_Qm9zc3lGb3hPbmVUd29UaHJlZQ",
    "object": "video.character",
    "name": "Mossy",
    "created_at": 1767225600,
    "model": "example-1",
}

OPERATIONS: dict[str, dict[str, Any]] = {
    "model": {
        "tags": ["Unified API"],
        "summary": "One model, describing itself",
        "description": "`x_reelay` lists capabilities, operations, durations and sizes per kind of input, "
        "defaults and precedence rules (and the price per second when billing is configured).",
        "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {
                "description": "The model",
                "content": {"application/json": {"schema": {"$ref": _REF + "Model"}, "example": MODEL_EXAMPLE}},
            }
        },
        "errors": (401, 404),
    },
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
                "content": {"application/json": {"schema": {"$ref": _REF + "Character"}, "example": CHARACTER_EXAMPLE}},
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
                "content": {"application/json": {"schema": {"$ref": _REF + "Character"}, "example": CHARACTER_EXAMPLE}},
            }
        },
        "errors": (401, 404, 502, 503),
    },
}
