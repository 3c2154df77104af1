"""The admin API: channel health, disabling and enabling channels, every token's tasks.

Mounted only when ``[admin] key`` is set, and only that key opens it: a
caller's token is refused like any other wrong key.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from ..engine import Dispatcher
from ..engine.breakers import BreakerState
from ..errors import AuthenticationError, InvalidRequest, NotFound
from ..models import TaskStatus
from .common import ROUTE_PREFIX, Handler, content_url, dispatcher_of, json_response
from .wire import task_to_json

ADMIN_KEY = web.AppKey("reelay.admin_key", str)
_MAX_LIST = 100


def setup_admin_routes(app: web.Application, key: str | None) -> None:
    """Mount ``/admin/...`` when ``key`` is set; without one the routes do not exist."""
    if not key:
        return
    app[ADMIN_KEY] = key
    table: list[tuple[str, str, Handler, str]] = [
        ("GET", "/admin/channels", list_channels, "admin.channels"),
        ("POST", "/admin/channels/{name}/disable", disable_channel, "admin.disable"),
        ("POST", "/admin/channels/{name}/enable", enable_channel, "admin.enable"),
        ("GET", "/admin/tasks", list_tasks, "admin.tasks"),
        ("POST", "/admin/reload", reload_config, "admin.reload"),
    ]
    for method, path, handler, name in table:
        app.router.add_route(method, path, handler, name=ROUTE_PREFIX + name)


def _authorize(request: web.Request) -> Dispatcher:
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), request.app[ADMIN_KEY].encode()):
        raise AuthenticationError("the admin API needs 'Authorization: Bearer <admin key>'", code="invalid_admin_key")
    return dispatcher_of(request)


async def _channels_json(dispatcher: Dispatcher, only: str | None = None) -> list[dict[str, Any]]:
    names = [only] if only is not None else list(dispatcher.channels)
    in_flight = await dispatcher.store.count_active_by_channel()
    now = dispatcher.clock()
    rows = []
    for name, (state, breaker) in dispatcher.breakers.snapshot(names).items():
        channel = dispatcher.channels[name]
        resting = state is BreakerState.OPEN
        rows.append(
            {
                "name": name,
                "vendor": channel.vendor,
                "healthy": state is BreakerState.CLOSED,
                "state": state.value,
                "consecutive_failures": breaker.failures,
                "cooldown_seconds": breaker.cooldown or None,
                "retry_in_seconds": round(max(0.0, breaker.until - now), 3) if resting else None,
                "reason": breaker.reason,
                "in_flight": in_flight.get(name, 0),
                "priority": channel.priority,
                "weight": channel.weight,
                "groups": list(channel.groups),
                "draining": name in dispatcher.context.draining,
            }
        )
        if channel.keys:
            keys = dispatcher.breakers.snapshot([channel.key_name(index) for index in range(len(channel.keys))])
            rows[-1]["keys"] = [
                {"index": index, "state": key_state.value, "reason": key_breaker.reason}
                for index, (key_state, key_breaker) in enumerate(keys.values())
            ]
    return rows


async def list_channels(request: web.Request) -> web.Response:
    dispatcher = _authorize(request)
    return json_response({"object": "list", "data": await _channels_json(dispatcher)})


def _channel_name(request: web.Request, dispatcher: Dispatcher) -> str:
    name = request.match_info["name"]
    if name not in dispatcher.channels:
        raise NotFound(f"no channel {name!r}", param="name", code="channel_not_found")
    return name


async def disable_channel(request: web.Request) -> web.Response:
    dispatcher = _authorize(request)
    name = _channel_name(request, dispatcher)
    dispatcher.breakers.disable(name, "disabled by an operator", manual=True)
    return json_response((await _channels_json(dispatcher, name))[0])


async def enable_channel(request: web.Request) -> web.Response:
    dispatcher = _authorize(request)
    name = _channel_name(request, dispatcher)
    dispatcher.breakers.enable(name)
    return json_response((await _channels_json(dispatcher, name))[0])


async def list_tasks(request: web.Request) -> web.Response:
    """Every token's tasks, newest first: ``status``, ``channel``, ``token`` (its name), ``limit``, ``after``."""
    dispatcher = _authorize(request)
    query = request.query
    status = query.get("status")
    if status is not None and status not in {each.value for each in TaskStatus}:
        allowed = ", ".join(s.value for s in TaskStatus)
        raise InvalidRequest(f"status must be one of {allowed}", param="status")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit must be an integer", param="limit") from None
    if not 1 <= limit <= _MAX_LIST:
        raise InvalidRequest(f"limit must be between 1 and {_MAX_LIST}", param="limit")
    tasks = await dispatcher.store.list_all(
        limit=limit + 1,
        after=query.get("after"),
        status=status,
        channel=query.get("channel"),
        owner=query.get("token"),
    )
    data = []
    for task in tasks[:limit]:
        body = task_to_json(dispatcher.with_estimate(task), content_url(request, task))
        body.update(token=task.owner, channel=task.channel, vendor=task.vendor)
        data.append(body)
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(tasks) > limit,
        }
    )


async def reload_config(request: web.Request) -> web.Response:
    """Re-read the configuration file: what changed, or 400 with the file's problems (nothing changed)."""
    dispatcher = _authorize(request)
    summary = await dispatcher.reloading.reload()
    return json_response({"object": "reload", "reloaded": True, **summary})
