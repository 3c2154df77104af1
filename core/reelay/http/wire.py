"""The gateway's own wire format: JSON bodies in, task objects out.

A private cattrs converter carries the rules; domain classes stay JSON-free.
Unknown top-level request fields are ignored on purpose, as the unified API
text says; known fields of the wrong type are a 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn

from ..errors import InvalidRequest
from ..models import Task, TaskStatus, UnifiedRequest, amount_text

_converter = cattrs.Converter(forbid_extra_keys=False)


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_json_type(value)}")
    return value


def _str_or_list(value: Any, _: type) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(item for item in value if item)
    raise TypeError("expected a string or an array of strings")


def _object(value: Any, _: type) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_json_type(value)}")
    return value


def _optional_str(value: Any, _: type) -> str | None:
    return None if value is None else _strict_str(value, str)


_converter.register_structure_hook(str, _strict_str)
_converter.register_structure_hook_func(lambda t: t == str | None, _optional_str)
_converter.register_structure_hook_func(lambda t: t == tuple[str, ...], _str_or_list)
_converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _object)
#: UnifiedRequest fields never read from a JSON body (multipart files fill ``uploads``).
NOT_FROM_JSON = ("uploads",)
_converter.register_structure_hook(
    UnifiedRequest,
    make_dict_structure_fn(UnifiedRequest, _converter, **{name: cattrs.override(omit=True) for name in NOT_FROM_JSON}),
)

# The same rules as JSON Schema, for the OpenAPI document (reelay.http.openapi): what each
# hook above accepts, keyed by the field type it is registered for, and the fields
# whose rules are not their type's.
_SECONDS = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?s?$"},
    ]
}
TYPE_SCHEMAS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    str | None: {"type": ["string", "null"]},
    tuple[str, ...]: {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
    Mapping[str, Any]: {"type": ["object", "null"], "additionalProperties": True},
}
FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    "model": {"type": "string", "minLength": 1},  # parse_unified_request: missing_model
    "duration": _SECONDS,  # read by normalize.parse_seconds
    "seconds": _SECONDS,
    "characters": {
        "anyOf": [
            {"type": "string"},
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "string"},
                        {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
                    ]
                },
            },
            {"type": "null"},
        ]
    },
}

_PATH = re.compile(r"@ \$\.(\w+)")


def parse_unified_request(body: Any) -> UnifiedRequest:
    """The unified request from a decoded JSON body.

    :raises InvalidRequest: naming the first field at fault.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object, got {_json_type(body)}")
    if "model" not in body or body["model"] in (None, ""):
        raise InvalidRequest("model is required", param="model", code="missing_model")
    if isinstance(body.get("characters"), list):  # OpenAI's [{"id": ...}] as well as plain ids
        body = {**body, "characters": [_character_id(item) for item in body["characters"]]}
    try:
        return _converter.structure(body, UnifiedRequest)
    except cattrs.ClassValidationError as error:
        message = cattrs.transform_error(error, format_exception=_describe)[0]
        match = _PATH.search(message)
        param = match.group(1) if match else None
        reason = message.split(" @ ")[0]
        raise InvalidRequest(f"{param or 'body'}: {reason}", param=param) from None


def _character_id(item: Any) -> Any:
    if isinstance(item, dict):
        if isinstance(item.get("id"), str):
            return item["id"]
        raise InvalidRequest('characters: each must be {"id": "char_..."} or an id', param="characters")
    return item


def _describe(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, TypeError | ValueError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return cattrs.v.format_exception(exc, type_)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object"
    )


def task_to_json(task: Task, content_url: str) -> dict[str, Any]:
    """The public task object. Never carries vendor ids, URLs or credentials."""
    body: dict[str, Any] = {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "model": task.public_model,
        "status": task.status.value,
        "progress": task.progress,
        "created_at": int(task.created_at),
        "completed_at": int(task.completed_at) if task.completed_at is not None else None,
        "seconds": str(task.seconds) if task.seconds is not None else None,
        "duration": task.seconds,
        "size": task.size,
        "error": {"code": task.error.code, "message": task.error.message} if task.error else None,
        "prompt": task.prompt,
        "expires_at": None,
        "remixed_from_video_id": task.remixed_from,
    }
    if task.status is TaskStatus.COMPLETED:
        body["url"] = content_url
        if task.result is not None and task.result.duration is not None:
            body["actual_duration"] = task.result.duration
    if task.cost is not None:
        cost = task.cost
        body["cost"] = {"amount": amount_text(cost.amount), "currency": cost.currency, "state": cost.state.value}
    if task.adjustments:
        body["adjustments"] = [
            {"field": a.field, "requested": a.requested, "effective": a.effective, "reason": a.reason}
            for a in task.adjustments
        ]
    return body
