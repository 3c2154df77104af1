"""The ``Idempotency-Key`` header on the create routes: the request's fingerprint and the replay header.

What a key means is :mod:`reelay.engine.idempotency`'s; this module reads the
header and answers.
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import orjson
from aiohttp import web

from ..models import Token, UnifiedRequest
from .common import dispatcher_of, task_response

HEADER = "Idempotency-Key"


def fingerprint(route: str, unified: UnifiedRequest) -> str:
    """The SHA-256 of the request as the gateway read it (not its bytes: a multipart
    boundary or key order changes nothing), with the route."""

    def default(value: Any) -> Any:
        if isinstance(value, bytes):
            return hashlib.sha256(value).hexdigest()
        if isinstance(value, frozenset | set):
            return sorted(value)
        return dict(value)

    body = orjson.dumps(
        [route, attrs.asdict(unified, recurse=True)],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
        default=default,
    )
    return hashlib.sha256(body).hexdigest()


async def submit(request: web.Request, token: Token, unified: UnifiedRequest) -> web.Response:
    """Submit, once per ``Idempotency-Key`` when the request has one."""
    dispatcher = dispatcher_of(request)
    key = request.headers.get(HEADER)
    if key is None:
        return task_response(request, await dispatcher.submit(token, unified))
    route = request.match_info.route.name or request.path
    task, replayed = await dispatcher.submit_once(token, key, fingerprint(route, unified), unified)
    response = task_response(request, dispatcher.with_estimate(task))
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
