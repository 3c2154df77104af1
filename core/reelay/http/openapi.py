"""The gateway's OpenAPI 3.1 document (``GET /openapi.json``) and API page (``GET /docs``).

Generated, never hand-kept: the request schema comes from the attrs class
:class:`~reelay.models.UnifiedRequest` and the field rules in
:mod:`reelay.http.wire` (the ones that validate requests), the task schema from
the keys :func:`~reelay.http.wire.task_to_json` writes, and the paths from the
routes the application really serves. The page is plain HTML rendered from
the same document: no script, no CDN.
"""

from __future__ import annotations

import copy
import html
import json
import typing
from collections.abc import Iterable
from typing import Any

import attrs
from aiohttp import web

from .. import __version__
from ..models import (
    TaskStatus,
    UnifiedRequest,
)
from . import openapi_derived, openapi_examples
from .wire import FIELD_SCHEMAS, NOT_FROM_JSON, TYPE_SCHEMAS, task_to_json

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/"

# ---------------------------------------------------------------- schemas from the models

_REQUEST_DESCRIPTIONS = {
    "model": "A model or alias from `GET /v1/models`.",
    "prompt": "What to generate; required for text-to-video.",
    "image": "An input image: URL, `data:` URI or raw base64.",
    "images": "More images (end frame, references), in the model's precedence order.",
    "input_reference": "More images, OpenAI style.",
    "duration": "Length in seconds (integer or numeric string).",
    "seconds": "Length in seconds, OpenAI style; which of duration/seconds wins is the model's precedence rule.",
    "size": "`1280x720`, `720x1280` or a ratio like `16:9`; snapped to the model's sizes unless strict.",
    "metadata": "Vendor-specific extras passed into the vendor payload (never the routed model).",
    "webhook_url": "This task's webhooks go here instead of the token's (signed with the token's secret).",
}


def attrs_schema(cls: type, *, skip: Iterable[str] = (), descriptions: dict[str, str] | None = None) -> dict[str, Any]:
    """JSON Schema for an attrs class read by :mod:`reelay.http.wire`'s converter.

    Field rules come from ``wire.FIELD_SCHEMAS`` first, then from the rule of
    the field's type in ``wire.TYPE_SCHEMAS``; a field with neither is an
    error, so a new field cannot go undocumented.
    """
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for field in attrs.fields(cls):
        if field.name in skip:
            continue
        if field.name in FIELD_SCHEMAS:
            schema = copy.deepcopy(FIELD_SCHEMAS[field.name])
        elif hints[field.name] in TYPE_SCHEMAS:
            schema = copy.deepcopy(TYPE_SCHEMAS[hints[field.name]])
        else:
            raise TypeError(f"{cls.__name__}.{field.name}: no wire rule for {hints[field.name]!r}")
        if descriptions and field.name in descriptions:
            schema["description"] = descriptions[field.name]
        properties[field.name] = schema
        if field.default is attrs.NOTHING:
            required.append(field.name)
    return {
        "type": "object",
        "title": cls.__name__,
        "properties": properties,
        "required": required,
        "additionalProperties": True,
        "description": "Unknown top-level fields are ignored.",
    }


def unified_request_schema() -> dict[str, Any]:
    """The body of ``POST /v1/video/generations``."""
    return attrs_schema(UnifiedRequest, skip=NOT_FROM_JSON, descriptions=_REQUEST_DESCRIPTIONS)


def openai_request_schema() -> dict[str, Any]:
    """The JSON body of ``POST /v1/videos``: the unified request, ``input_reference`` also as ``{image_url}``."""
    schema = unified_request_schema()
    schema["title"] = "OpenAIVideoRequest"
    reference = schema["properties"]["input_reference"]
    reference["anyOf"] = [
        *reference["anyOf"],
        {"type": "object", "properties": {"image_url": {"type": "string"}}, "required": ["image_url"]},
    ]
    return schema


_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_STR = {"type": ["string", "null"]}
_TASK_FIELDS: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "description": "The public task id."},
    "task_id": {"type": "string", "description": "The same id (unified API name)."},
    "object": {"const": "video"},
    "model": {"type": "string"},
    "status": {"enum": [status.value for status in TaskStatus]},
    "progress": {"type": "integer", "minimum": 0, "maximum": 100, "description": "Never decreases."},
    "created_at": {"type": "integer", "description": "Unix seconds."},
    "completed_at": {**_NULLABLE_INT, "description": "Unix seconds, once the task ended."},
    "seconds": {**_NULLABLE_STR, "description": "The effective duration, as a string (OpenAI style)."},
    "duration": {**_NULLABLE_INT, "description": "The effective duration in seconds."},
    "size": {**_NULLABLE_STR, "description": "The effective size."},
    "error": {
        "anyOf": [
            {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "description": "Stable, machine-readable (e.g. `upstream_failed`)."},
                    "message": {"type": "string", "description": "For people; never holds credentials."},
                },
                "required": ["code", "message"],
            },
            {"type": "null"},
        ],
        "description": "Why the task failed.",
    },
    "prompt": _NULLABLE_STR,
    "expires_at": _NULLABLE_INT,
    "remixed_from_video_id": _NULLABLE_STR,
    "url": {"type": "string", "description": "When completed: the gateway's content route for the video."},
    "actual_duration": {"type": "number", "description": "When completed: the vendor's figure, if it gave one."},
    "cost": {
        "type": "object",
        "description": "What the task costs (absent when its model has no price): held at submission, "
        "then settled on the seconds generated or refunded, exactly once.",
        "properties": {
            "amount": {"type": "string", "description": "A decimal amount, as text."},
            "currency": {"type": "string"},
            "state": {"enum": ["held", "settled", "refunded"]},
        },
        "required": ["amount", "currency", "state"],
    },
    "adjustments": {
        "type": "array",
        "description": "Values the normalization changed.",
        "items": {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "requested": {},
                "effective": {},
                "reason": {"type": "string"},
            },
            "required": ["field", "requested", "effective", "reason"],
        },
    },
}


_sample_tasks = openapi_examples.sample_tasks


def task_schema() -> dict[str, Any]:
    """The task object, with exactly the keys :func:`reelay.http.wire.task_to_json` writes."""
    minimal, others = _sample_tasks()
    always = list(task_to_json(minimal, "u"))
    keys = dict.fromkeys(always)
    for task in others:
        keys.update(dict.fromkeys(task_to_json(task, "u")))
    missing = [key for key in keys if key not in _TASK_FIELDS]
    if missing:
        raise TypeError(f"task_to_json writes keys the OpenAPI document does not describe: {missing}")
    return {
        "type": "object",
        "title": "Task",
        "properties": {key: copy.deepcopy(_TASK_FIELDS[key]) for key in keys},
        "required": always,
    }


def error_schema() -> dict[str, Any]:
    """``{"error": {"message", "type", "code", "param"}}``, as every error is rendered."""
    return {
        "type": "object",
        "title": "Error",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string", "description": "What went wrong, for people."},
                    "type": {
                        "type": "string",
                        "description": "OpenAI's class: `invalid_request_error`, `authentication_error`, "
                        "`permission_error`, `server_error`.",
                    },
                    "code": {
                        "type": "string",
                        "description": "Stable, machine-readable: `not_supported`, `model_not_found`, ...",
                    },
                    "param": {"type": ["string", "null"], "description": "The request field at fault, if one is."},
                },
                "required": ["message", "type", "code", "param"],
            }
        },
        "required": ["error"],
    }


def component_schemas() -> dict[str, Any]:
    return {
        "UnifiedRequest": unified_request_schema(),
        "OpenAIVideoRequest": openai_request_schema(),
        "OpenAIVideoForm": {
            "type": "object",
            "description": "Multipart form: the request fields as text parts, `input_reference` as a file "
            "or the field `input_reference[image_url]`, `metadata[KEY]` for metadata.",
            "properties": {
                "model": {"type": "string"},
                "prompt": {"type": "string"},
                "seconds": {"type": "string"},
                "size": {"type": "string"},
                "input_reference": {"type": "string", "contentMediaType": "application/octet-stream"},
            },
            "required": ["model"],
        },
        "RemixRequest": {
            "type": "object",
            "properties": {"prompt": {"type": "string", "minLength": 1}},
            "required": ["prompt"],
        },
        "Task": task_schema(),
        "TaskList": page_of({"$ref": _REF + "Task"}),
        "Deleted": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "object": {"const": "video.deleted"}, "deleted": {"const": True}},
            "required": ["id", "object", "deleted"],
        },
        "Health": {
            "type": "object",
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
            "required": ["status", "version"],
        },
        "Error": error_schema(),
        **openapi_derived.SCHEMAS,
        "Usage": _USAGE,
        "UsageEntryList": _USAGE_ENTRIES,
    }


_MONEY = {"type": "string", "description": "A decimal amount, as text."}
_USAGE = {
    "type": "object",
    "properties": {
        "object": {"const": "usage"},
        "currency": {"type": "string"},
        "quota": {"type": ["string", "null"], "description": "The configured starting credit; null: unlimited."},
        "balance": _MONEY,
        "held": _MONEY,
        "spent": _MONEY,
        "since": _NULLABLE_INT,
        "until": _NULLABLE_INT,
        "by_model": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "tasks": {"type": "integer"},
                    "seconds": {"type": "number"},
                    "amount": _MONEY,
                },
                "required": ["model", "tasks", "seconds", "amount"],
            },
        },
    },
    "required": ["object", "currency", "quota", "balance", "held", "spent", "by_model"],
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A page of a list, in OpenAI's shape: ``data`` of ``item``, ``first_id``, ``last_id``, ``has_more``."""
    return {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "first_id": _NULLABLE_STR,
            "last_id": _NULLABLE_STR,
            "has_more": {"type": "boolean"},
        },
        "required": ["object", "data", "first_id", "last_id", "has_more"],
    }


_USAGE_ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "usage.entry"},
        "kind": {"enum": ["hold", "settle", "refund", "credit"]},
        "amount": _MONEY,
        "currency": {"type": "string"},
        "created_at": {"type": "integer"},
        "task_id": _NULLABLE_STR,
        "model": _NULLABLE_STR,
        "seconds": {"type": ["number", "null"]},
        "note": _NULLABLE_STR,
    },
    "required": ["id", "object", "kind", "amount", "currency", "created_at"],
}
_USAGE_ENTRIES = page_of(_USAGE_ENTRY)


# ---------------------------------------------------------------- operations


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF + name}}}


def _ok(name: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": _json(name)}


_VIDEO = {"video/mp4": {"schema": {"type": "string", "contentMediaType": "video/mp4"}}}
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ERRORS = {
    400: "Malformed or invalid request (`param` names the field)",
    401: "Missing or unknown token",
    403: "The model is not available to the token's group",
    404: "Unknown model, task or route",
    409: "The task is not in a state that allows this, or an Idempotency-Key was reused or is in flight",
    413: "Body larger than server.max_body_mb",
    416: "Range outside the file",
    429: "Too many create requests this minute (`rate_limit_exceeded`, `Retry-After`), insufficient quota "
    "(`insufficient_quota`, `x-should-retry: false`) or too many unfinished tasks (`too_many_tasks`, `Retry-After`)",
    502: "Every eligible channel failed upstream",
    503: "Every channel was rate limited or none could be used",
}

#: Route name (after ``reelay.``) -> operation. Statuses listed in "errors" answer the Error schema.
OPERATIONS: dict[str, dict[str, Any]] = {
    "create": {
        "tags": ["Unified API"],
        "summary": "Submit a video generation",
        "description": "Answers at once, after the vendor accepted the job, with the task object.",
        "requestBody": {"required": True, "content": _json("UnifiedRequest")},
        "responses": {"200": _ok("Task", "The new task")},
        "errors": (400, 401, 403, 404, 409, 413, 429, 502, 503),
    },
    "get_generation": {
        "tags": ["Unified API"],
        "summary": "A task (unified path)",
        "parameters": [_TASK_ID],
        "responses": {"200": _ok("Task")},
        "errors": (401, 404),
    },
    "get_video": {
        "tags": ["Unified API"],
        "summary": "A task",
        "description": "Carries `openai-poll-after-ms` while the task runs: the time until the gateway's next poll.",
        "parameters": [_TASK_ID],
        "responses": {"200": _ok("Task")},
        "errors": (401, 404),
    },
    "content": {
        "tags": ["Unified API"],
        "summary": "Download the finished video",
        "description": (
            "The finished video, from the gateway's kept copy or relayed from the vendor; "
            "supports `Range` and `HEAD`. 409 until completed."
        ),
        "parameters": [
            _TASK_ID,
            {"name": "variant", "in": "query", "required": False, "schema": {"type": "string", "default": "video"}},
            {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "The video", "content": _VIDEO},
            "206": {"description": "The requested byte range", "content": _VIDEO},
        },
        "errors": (400, 401, 404, 409, 416, 502, 503),
    },
    "cancel": {
        "tags": ["Unified API"],
        "summary": "Cancel a running task",
        "description": "Where the vendor can; otherwise 400 with code `cancel_not_supported` (the task keeps running).",
        "parameters": [_TASK_ID],
        "responses": {"200": _ok("Task", "The cancelled task")},
        "errors": (400, 401, 404, 409, 502, 503),
    },
    "events": {
        "tags": ["Unified API"],
        "summary": "Follow a task live (Server-Sent Events)",
        "description": (
            "An event per change of status or progress, named by the status, `data` the task object, "
            "`id` a growing number (`Last-Event-ID` resumes after it); a `: ping` comment every "
            "`[events] heartbeat_seconds`; ends after the final event."
        ),
        "parameters": [
            _TASK_ID,
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {
            "200": {"description": "The event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
        },
        "errors": (401, 404),
    },
    "deliveries": {
        "tags": ["Unified API"],
        "summary": "The task's webhook delivery attempts",
        "description": (
            "`data`: each attempt's `event_id`, `attempt`, `attempted_at`, `url` (without its query string), "
            "`status_code` or `error`, `next_retry_at`; `deliveries`: each event's `state`."
        ),
        "parameters": [_TASK_ID],
        "responses": {
            "200": {"description": "The attempts", "content": {"application/json": {"schema": {"type": "object"}}}}
        },
        "errors": (401, 404),
    },
    "callback": {
        "tags": ["Service"],
        "summary": "A vendor calls back about a task",
        "description": (
            "For vendors that call back: the gateway hands each task's vendor this URL with a token "
            "unguessable per task (needs `server.public_url`). Unknown tokens are 404; bodies the "
            "vendor's plugin does not accept are 400 and change nothing. A handshake the plugin "
            "recognizes (a challenge posted before the vendor creates the task) is answered with "
            "the body the plugin gives, such as the challenge echoed."
        ),
        "security": [],
        "parameters": [
            {"name": "vendor", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
        ],
        "responses": {"200": {"description": "Taken", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (400, 404, 413),
    },
    "models": {
        "tags": ["Unified API"],
        "summary": "The models the token can use",
        "responses": {"200": _ok("ModelList")},
        "errors": (401,),
    },
    "healthz": {
        "tags": ["Service"],
        "summary": "Liveness",
        "security": [],
        "responses": {"200": _ok("Health")},
        "errors": (),
    },
    "openapi": {
        "tags": ["Service"],
        "summary": "This OpenAPI document",
        "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {}}}}},
        "errors": (),
    },
    "docs": {
        "tags": ["Service"],
        "summary": "This API as a web page",
        "security": [],
        "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        "errors": (),
    },
    "metrics": {
        "tags": ["Service"],
        "summary": "Metrics in the Prometheus text format (Bearer [metrics] token when one is set)",
        "security": [],
        "responses": {
            "200": {"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}
        },
        "errors": (401,),
    },
    "admin.channels": {
        "tags": ["Admin"],
        "summary": "Every channel's health, breaker state and tasks in flight (Bearer admin key)",
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (401,),
    },
    "admin.disable": {
        "tags": ["Admin"],
        "summary": "Take a channel out of service until enabled",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (401, 404),
    },
    "admin.enable": {
        "tags": ["Admin"],
        "summary": "Put a channel back in service, its breaker closed",
        "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (401, 404),
    },
    "admin.tasks": {
        "tags": ["Admin"],
        "summary": "Every token's tasks, newest first",
        "parameters": [
            {"name": key, "in": "query", "required": False, "schema": {"type": kind}}
            for key, kind in (
                ("status", "string"),
                ("channel", "string"),
                ("token", "string"),
                ("limit", "integer"),
                ("after", "string"),
            )
        ],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (400, 401),
    },
    "admin.reload": {
        "tags": ["Admin"],
        "summary": "Re-read the configuration file: what changed, or 400 `invalid_configuration` (nothing changed)",
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}},
        "errors": (400, 401),
    },
    "openai.create": {
        "tags": ["OpenAI Videos"],
        "summary": "Create a video (OpenAI Videos protocol)",
        "requestBody": {
            "required": True,
            "content": {
                **_json("OpenAIVideoRequest"),
                "multipart/form-data": {"schema": {"$ref": _REF + "OpenAIVideoForm"}},
            },
        },
        "responses": {"200": _ok("Task", "The new task")},
        "errors": (400, 401, 403, 404, 409, 413, 429, 502, 503),
    },
    "openai.list": {
        "tags": ["OpenAI Videos"],
        "summary": "The caller's tasks",
        "parameters": [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {"name": "order", "in": "query", "required": False, "schema": {"enum": ["asc", "desc"], "default": "desc"}},
            {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {"200": _ok("TaskList")},
        "errors": (400, 401),
    },
    "openai.delete": {
        "tags": ["OpenAI Videos"],
        "summary": "Delete a task (cancelling it first if it runs)",
        "parameters": [_TASK_ID],
        "responses": {"200": _ok("Deleted")},
        "errors": (400, 401, 404, 502, 503),
    },
    "usage": {
        "tags": ["Usage"],
        "summary": "The caller's balance, holds and spend by model",
        "parameters": [
            {"name": "since", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
            {"name": "until", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
        ],
        "responses": {"200": _ok("Usage")},
        "errors": (400, 401),
    },
    "usage.entries": {
        "tags": ["Usage"],
        "summary": "The caller's ledger entries, newest first",
        "parameters": [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
        ],
        "responses": {"200": _ok("UsageEntryList")},
        "errors": (400, 401),
    },
    "openai.remix": {
        "tags": ["OpenAI Videos"],
        "summary": "Remix a completed video",
        "parameters": [_TASK_ID],
        "requestBody": {"required": True, "content": _json("RemixRequest")},
        "responses": {"200": _ok("Task", "The new task")},
        "errors": (400, 401, 404, 409, 429, 502, 503),
    },
}


OPERATIONS.update(openapi_derived.OPERATIONS)


def served_routes(app: web.Application) -> list[tuple[str, str, str]]:
    """(method, path, route name) of every Reelay route ``app`` serves; ``HEAD`` goes with ``GET``."""
    from .common import ROUTE_PREFIX

    found = []
    for route in app.router.routes():
        name = route.name or ""
        if route.method == "HEAD" or not name.startswith(ROUTE_PREFIX):
            continue
        found.append((route.method, route.resource.canonical if route.resource else "", name[len(ROUTE_PREFIX) :]))
    return found


def build_document(routes: Iterable[tuple[str, str, str]], server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes`` (as :func:`served_routes` lists them)."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, name in routes:
        known = OPERATIONS.get(name)
        operation = copy.deepcopy(known) if known else {"summary": name, "responses": {}, "errors": (400,)}
        operation["operationId"] = name.replace(".", "_")
        openapi_examples.add_examples(name, operation)
        for status in operation.pop("errors"):
            operation["responses"][str(status)] = {"$ref": f"#/components/responses/E{status}"}
        operation["responses"]["default"] = {"$ref": "#/components/responses/Error"}
        paths.setdefault(path, {})[method.lower()] = operation
    responses = {f"E{status}": _error_answer(text, status) for status, text in sorted(_ERRORS.items())}
    responses["Error"] = _error_answer("Any other error", None)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Reelay",
            "version": __version__,
            "summary": "One asynchronous HTTP API in front of many AI video-generation vendors.",
            "description": "Submit a generation, poll the task until `completed`, then download the video. "
            'Every error is `{"error": {"message", "type", "code", "param"}}`.',
        },
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "responses": responses,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def _error_answer(description: str, status: int | None) -> dict[str, Any]:
    content = _json("Error")
    content["application/json"]["examples"] = openapi_examples.error_examples(status)
    return {"description": description, "content": content}


def document_for(request: web.Request) -> dict[str, Any]:
    from .common import PUBLIC_URL

    base = request.app.get(PUBLIC_URL) or f"{request.scheme}://{request.host}"
    return build_document(served_routes(request.app), base)


# ---------------------------------------------------------------- handlers


async def openapi_json(request: web.Request) -> web.Response:
    """``GET /openapi.json``."""
    return web.json_response(document_for(request), dumps=lambda value: json.dumps(value, indent=2))


async def docs_page(request: web.Request) -> web.Response:
    """``GET /docs``: the document as one self-contained page."""
    return web.Response(text=render_html(document_for(request)), content_type="text/html")


# ---------------------------------------------------------------- the page

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d1d1f}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.5em;font-weight:bold;font-family:ui-monospace,monospace}
.get{color:#0a7d32}.post{color:#0b5cad}.delete{color:#b3261e}
table{border-collapse:collapse;margin:.4em 0}td,th{border-bottom:1px solid #eee;padding:.2em .8em .2em 0;
text-align:left;vertical-align:top}th{font-weight:600}nav a{margin-right:1em}
"""


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else ""


def type_text(schema: dict[str, Any]) -> str:
    """A short human reading of a schema: ``string or null``, ``array of string``..."""
    if "$ref" in schema:
        return _schema_name(schema)
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(type_text(option) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return "array of " + type_text(schema.get("items", {}))
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _slug(text: str) -> str:
    return _e(text.lower().replace(" ", "-"))


def _e(text: Any) -> str:
    return html.escape(str(text))


def _code(text: str) -> str:
    """Backticks in descriptions become <code>."""
    parts = _e(text).split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _nested(schema: dict[str, Any]) -> dict[str, Any]:
    """The object schema inside ``schema`` (itself, or an ``anyOf`` option) whose fields are listed too."""
    for option in [schema, *schema.get("anyOf", ())]:
        if option.get("properties"):
            return option
    return {}


def _field_rows(schema: dict[str, Any], prefix: str = "") -> str:
    required = set(schema.get("required", ()))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        rows.append(
            f"<tr><td><code>{_e(prefix + name)}</code></td><td>{_e(type_text(prop))}</td>"
            f"<td>{'required' if name in required else ''}</td><td>{_code(prop.get('description', ''))}</td></tr>"
        )
        inner = _nested(prop) or _nested(prop.get("items", {}))
        if inner:
            rows.append(_field_rows(inner, f"{prefix}{name}{'[]' if 'items' in prop else ''}."))
    return "".join(rows)


def _fields_table(schema: dict[str, Any]) -> str:
    """The schema's fields, those of nested objects as ``parent.field`` rows."""
    rows = _field_rows(schema)
    if not rows:
        return ""
    return f"<table><tr><th>field</th><th>type</th><th></th><th></th></tr>{rows}</table>"


def _example(label: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2)
    return f"<details><summary>{_e(label)}</summary><pre>{_e(text)}</pre></details>"


def render_html(document: dict[str, Any]) -> str:
    """The API page: every operation, its parameters, body and answers, then every schema."""
    info = document["info"]
    schemas = document["components"]["schemas"]
    responses = document["components"]["responses"]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{_e(info['title'])} API</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(info['title'])} API <small>{_e(info['version'])}</small></h1>",
        f"<p>{_code(info['summary'])} {_code(info['description'])}</p>",
        "<p>Send <code>Authorization: Bearer &lt;token&gt;</code> on every route except those marked public. "
        'Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI '
        f"{_e(document['openapi'])}).</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault((operation.get("tags") or ["Other"])[0], []).append((method, path, operation))
    links = "".join(f'<a href="#{_slug(tag)}">{_e(tag)}</a>' for tag in [*by_tag, "errors", "schemas"])
    out.append(f"<nav>{links}</nav>")
    for tag, operations in by_tag.items():
        out.append(f'<h2 id="{_slug(tag)}">{_e(tag)}</h2>')
        for method, path, operation in operations:
            public = " <small>(public)</small>" if operation.get("security") == [] else ""
            out.append(f'<div class=op id="{_e(operation["operationId"])}">')
            out.append(f"<div><span class='m {method}'>{method.upper()}</span> <code>{_e(path)}</code>{public}</div>")
            out.append(f"<p><b>{_e(operation.get('summary', ''))}</b>. {_code(operation.get('description', ''))}</p>")
            if operation.get("parameters"):
                rows = "".join(
                    f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td>"
                    f"<td>{_e(type_text(p.get('schema', {})))}</td>"
                    f"<td>{'required' if p.get('required') else ''}</td></tr>"
                    for p in operation["parameters"]
                )
                out.append(f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{rows}</table>")
            body = operation.get("requestBody")
            if body:
                for media, content in body["content"].items():
                    name = _schema_name(content["schema"])
                    out.append(f'<p>Body (<code>{_e(media)}</code>): <a href="#{_e(name)}">{_e(name)}</a></p>')
                    out.append(_fields_table(schemas.get(name, {})))
                    if "example" in content:
                        out.append(_example(f"Example request ({media})", content["example"]))
            answers, examples = [], []
            for status, answer in operation["responses"].items():
                shared = _schema_name(answer)
                if shared:
                    answer = responses[shared]
                for media, content in (answer.get("content") or {}).items():
                    if "example" in content:
                        examples.append(_example(f"Example answer {status} ({media})", content["example"]))
                media = next(iter(answer.get("content", {}) or {"": {}}))
                schema = (answer.get("content") or {}).get(media, {}).get("schema", {})
                name = _schema_name(schema)
                if name:
                    target = f'<a href="#{_e(name)}">{_e(name)}</a>'
                else:
                    target = f"<code>{_e(media)}</code>" if media else ""
                code = f'<a href="#answer-{_e(shared)}">{_e(status)}</a>' if shared else _e(status)
                answers.append(f"<tr><td>{code}</td><td>{_e(answer['description'])}</td><td>{target}</td></tr>")
            out.append(f"<table><tr><th>answer</th><th></th><th></th></tr>{''.join(answers)}</table>")
            out.extend(examples)
            out.append("</div>")
    out.append('<h2 id="errors">errors</h2>')
    for name, answer in responses.items():
        title = name[1:] if name[1:].isdigit() else name
        out.append(f'<h3 id="answer-{_e(name)}">{_e(title)}: {_code(answer["description"])}</h3>')
        for label, example in answer["content"]["application/json"].get("examples", {}).items():
            out.append(_example(label, example["value"]))
    out.append('<h2 id="schemas">schemas</h2>')
    for name, schema in schemas.items():
        out.append(f'<h3 id="{_e(name)}">{_e(name)}</h3>')
        if schema.get("description"):
            out.append(f"<p>{_code(schema['description'])}</p>")
        out.append(_fields_table(schema) or f"<p>{_e(type_text(schema))}</p>")
    out.append("</body></html>")
    return "\n".join(out)
