"""``GET /metrics`` and the middleware that times Reelay's routes and counts video bytes served."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..engine.metrics import Metrics
from ..errors import AuthenticationError
from .common import OWNS_ALL_ROUTES, ROUTE_PREFIX, Handler, dispatcher_of

#: The content route's name: its answers are counted in bytes too.
_CONTENT_ROUTE = ROUTE_PREFIX + "content"


Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


def metrics_middleware(metrics: Metrics) -> Middleware:
    """A middleware reporting each of Reelay's requests (route name, status, latency) to ``metrics``.

    Placed outside the error middleware, so it sees the status the caller gets.
    """
    clock = time.perf_counter

    @web.middleware
    async def report(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = clock()
        name = getattr(request.match_info.route, "name", None)
        if name is None or not name.startswith(ROUTE_PREFIX):
            if not request.app.get(OWNS_ALL_ROUTES):
                return await handler(request)  # an embedder's own route
            name = "unmatched"
        route = name.removeprefix(ROUTE_PREFIX)
        status = 500
        try:
            response = await handler(request)
            if name == _CONTENT_ROUTE:
                await _count_content(request, response, metrics)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            metrics.http_request(route, status, clock() - started)

    return report


async def _count_content(request: web.Request, response: web.StreamResponse, metrics: Metrics) -> None:
    """Count a video's bytes, sent by now: a kept file goes out from the handler (it is prepared there)."""
    if request.method == "HEAD" or response.status not in (200, 206):
        return
    if isinstance(response, web.FileResponse):
        metrics.content_served("kept", response.content_length or 0)
        return
    size = response.content_length if response.content_length is not None else response.body_length
    metrics.content_served("relayed", size)


async def metrics_page(request: web.Request) -> web.Response:
    """The Prometheus text exposition; with ``[metrics] token``, only for that Bearer token."""
    dispatcher = dispatcher_of(request)
    metrics = dispatcher.metrics
    if metrics is None:  # not mounted then; kept for embedders calling it by hand
        raise web.HTTPNotFound()
    token = dispatcher.config.metrics.token
    if token is not None:
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise AuthenticationError("the metrics need 'Authorization: Bearer <metrics token>'")
    body = await metrics.render(dispatcher.store.count_by_status, dispatcher.breakers, dispatcher.channels)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
