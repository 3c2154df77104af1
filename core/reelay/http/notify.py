"""Telling the caller: the live event stream of a task, and its webhook deliveries.

``GET /v1/videos/{id}/events`` is a Server-Sent Events stream (``aiohttp-sse``):
one event per change of status or progress, named by the status, ``data``
the task object, ``id`` a number that only grows (``Last-Event-ID`` resumes
after it), a heartbeat comment every ``[events] heartbeat_seconds``; it ends
after the task's final event. ``GET /v1/videos/{id}/deliveries`` lists the
task's webhook attempts.
"""

from __future__ import annotations

import orjson
from aiohttp import web
from aiohttp_sse import sse_response

from ..engine import Dispatcher
from ..models import Task
from .common import PUBLIC_URL, ROUTE_PREFIX, authenticate, content_url, dispatcher_of, json_response
from .streaming import ended_at_shutdown
from .wire import task_to_json


def setup_notify_routes(app: web.Application, dispatcher: Dispatcher) -> None:
    """Mount the stream and deliveries routes; webhook events carry the task object as the API shows it."""
    router = app.router
    router.add_get("/v1/videos/{task_id}/events", task_events, name=ROUTE_PREFIX + "events")
    router.add_get("/v1/videos/{task_id}/deliveries", task_deliveries, name=ROUTE_PREFIX + "deliveries")
    server = dispatcher.config.server
    base = app.get(PUBLIC_URL) or f"http://{server.host}:{server.port}"

    def render(task: Task) -> dict[str, object]:
        return task_to_json(task, f"{base}/v1/videos/{task.id}/content")

    dispatcher.webhooks.render = render


def _last_event_id(request: web.Request) -> int | None:
    value = request.headers.get("Last-Event-ID", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None  # "³".isdigit() is True


async def task_events(request: web.Request) -> web.StreamResponse:
    token = authenticate(request)
    dispatcher = dispatcher_of(request)
    task = await dispatcher.get_task(token, request.match_info["task_id"])  # 404 before the stream starts
    after = _last_event_id(request)
    heartbeat = dispatcher.config.events.heartbeat_seconds
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    with ended_at_shutdown(request):
        async with sse_response(request, ping_interval=heartbeat, headers=headers) as stream:
            async for number, current in dispatcher.watcher.follow(token, task, after):
                body = orjson.dumps(task_to_json(current, content_url(request, current))).decode()
                await stream.send(body, id=str(number), event=current.status.value)
    return stream


async def task_deliveries(request: web.Request) -> web.Response:
    token = authenticate(request)
    dispatcher = dispatcher_of(request)
    task = await dispatcher.get_task(token, request.match_info["task_id"])
    attempts = await dispatcher.webhooks.attempts(task.id)
    data = [
        {
            "object": "webhook.attempt",
            "event_id": attempt.delivery_id,
            "attempt": attempt.attempt,
            "attempted_at": attempt.at,
            "url": attempt.url,
            "status_code": attempt.status_code,
            "error": attempt.error,
            "next_retry_at": attempt.next_retry_at,
        }
        for attempt in attempts
    ]
    pending = [
        {"event_id": d.id, "type": d.type, "state": d.state, "attempts": d.attempts, "next_at": d.next_attempt_at}
        for d in await dispatcher.webhooks.pending(task.id)
    ]
    return json_response({"object": "list", "data": data, "deliveries": pending})
