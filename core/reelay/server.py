"""The HTTP API: an app factory, and routes other aiohttp apps can mount.

``create_app(config)`` is the standalone gateway. ``setup_routes(app,
dispatcher)`` mounts the same routes into an existing application; the
error middleware only touches Reelay's own routes there.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from . import __version__
from .config import Config
from .content import kept_response, proxy_content
from .dispatcher import Dispatcher, LocalContent
from .errors import InvalidRequest, NotFound, PayloadTooLarge, ReelayError
from .models import Task, Token
from .openapi import docs_page, openapi_json
from .poller import Poller
from .wire import parse_unified_request, task_to_json

log = structlog.get_logger("reelay.http")

DISPATCHER = web.AppKey("reelay.dispatcher", Dispatcher)
POLLER = web.AppKey("reelay.poller", Poller)
PUBLIC_URL = web.AppKey("reelay.public_url", str)
OWNS_ALL_ROUTES = web.AppKey("reelay.owns_all_routes", bool)

ROUTE_PREFIX = "reelay."

# Request ids only need to be unique, not secret: a per-process random
# prefix and a counter cost nothing, unlike a call into the system's RNG.
_REQUEST_ID_PREFIX = "req_" + secrets.token_hex(4)
_request_ids = (f"{_REQUEST_ID_PREFIX}{n:x}" for n in itertools.count(1))
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------- app factory


def create_app(
    config: Config,
    *,
    dispatcher: Dispatcher | None = None,
    poller: bool | None = None,
) -> web.Application:
    """The standalone gateway application.

    :param dispatcher: a dispatcher to use (default: one built from ``config``).
    :param poller: run the background poller (default: ``config.poller.enabled``).
    """
    max_body = int(config.server.max_body_mb * 1024 * 1024)
    app = web.Application(client_max_size=max_body, middlewares=[error_middleware])
    app[OWNS_ALL_ROUTES] = True
    setup_routes(app, dispatcher or Dispatcher(config), poller=config.poller.enabled if poller is None else poller)
    return app


def setup_routes(app: web.Application, dispatcher: Dispatcher, *, poller: bool = True) -> None:
    """Mount Reelay's routes, dispatcher and poller into ``app``.

    The dispatcher (its store and client session) and the poller are started
    and stopped with ``app`` through ``cleanup_ctx``.
    """
    app[DISPATCHER] = dispatcher
    if error_middleware not in app.middlewares:
        app.middlewares.append(error_middleware)
    public = dispatcher.config.server.public_url
    if public:
        app[PUBLIC_URL] = public.rstrip("/")

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await dispatcher.start()
        running = None
        if poller:
            running = Poller(dispatcher)
            app[POLLER] = running
            running.start()
        try:
            yield
        finally:
            if running is not None:
                await running.stop()
            await dispatcher.stop()

    app.cleanup_ctx.append(lifecycle)
    router = app.router
    routes: list[tuple[str, str, Handler, str]] = [
        ("POST", "/v1/video/generations", create_generation, "create"),
        ("GET", "/v1/video/generations/{task_id}", get_task, "get_generation"),
        ("GET", "/v1/videos/{task_id}", get_task, "get_video"),
        ("GET", "/v1/videos/{task_id}/content", get_content, "content"),
        ("POST", "/v1/videos/{task_id}/cancel", cancel_task, "cancel"),
        ("GET", "/v1/models", list_models, "models"),
        ("GET", "/healthz", healthz, "healthz"),
        ("GET", "/openapi.json", openapi_json, "openapi"),
        ("GET", "/docs", docs_page, "docs"),
    ]
    for method, path, handler, name in routes:
        if method == "GET":
            router.add_get(path, handler, name=ROUTE_PREFIX + name)  # answers HEAD too
        else:
            router.add_route(method, path, handler, name=ROUTE_PREFIX + name)
    from .openai_compat import setup_openai_routes

    setup_openai_routes(app)


# ---------------------------------------------------------------- middleware


def _is_ours(request: web.Request) -> bool:
    if request.app.get(OWNS_ALL_ROUTES):
        return True
    route = request.match_info.route
    name = getattr(route, "name", None) or ""
    return name.startswith(ROUTE_PREFIX)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every error on Reelay's routes into the JSON error body."""
    request_id = request.headers.get("X-Request-Id") or next(_request_ids)
    # Keep-alive connections serve requests one after another in one task:
    # overwrite what the previous request bound (the token is bound once known).
    structlog.contextvars.bind_contextvars(request_id=request_id, token=None)
    try:
        response = await handler(request)
    except ReelayError as error:
        response = _error_response(error)
    except web.HTTPException as error:
        if not _is_ours(request) or error.status < 400:
            raise
        response = _error_response(_from_http_exception(error))
        if "Content-Range" in error.headers:  # 416 says how large the file is
            response.headers["Content-Range"] = error.headers["Content-Range"]
    except Exception:
        if not _is_ours(request):
            raise
        log.exception("unhandled error", method=request.method, path=request.path)
        response = _error_response(ReelayError("internal error; the request id is " + request_id))
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response


def _from_http_exception(error: web.HTTPException) -> ReelayError:
    if error.status == 413:
        return PayloadTooLarge("request body too large (limit: server.max_body_mb)")
    if error.status == 404:
        return NotFound("no such route", code="route_not_found")
    if error.status == 405:
        return ReelayError("method not allowed on this route", code="method_not_allowed", status=405)
    if error.status == 416:
        failed = ReelayError("requested range not satisfiable", code="range_not_satisfiable", status=416)
        failed.type = "invalid_request_error"
        return failed
    failed = ReelayError(error.reason or "request failed", code="http_error", status=error.status)
    failed.type = "invalid_request_error" if error.status < 500 else "server_error"
    return failed


def _error_response(error: ReelayError) -> web.Response:
    return json_response(error.body(), status=error.status)


# ---------------------------------------------------------------- helpers


def dispatcher_of(request: web.Request) -> Dispatcher:
    return request.app[DISPATCHER]


def authenticate(request: web.Request) -> Token:
    token = dispatcher_of(request).authenticate(request.headers.get("Authorization"))
    structlog.contextvars.bind_contextvars(token=token.name)
    return token


def content_url(request: web.Request, task: Task) -> str:
    base = request.app.get(PUBLIC_URL)
    if base is None:
        base = f"{request.scheme}://{request.host}"
    return f"{base}/v1/videos/{task.id}/content"


def task_response(request: web.Request, task: Task, status: int = 200) -> web.Response:
    body = task_to_json(task, content_url(request, task))
    headers = poll_after_header(request, task)
    return json_response(body, status=status, headers=headers)


def poll_after_header(request: web.Request, task: Task) -> dict[str, str]:
    if task.is_terminal:
        return {}
    dispatcher = dispatcher_of(request)
    wait = max(task.next_poll_at - dispatcher.clock(), dispatcher.config.poller.min_interval)
    return {"openai-poll-after-ms": str(int(wait * 1000))}


def json_response(value: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer. orjson, not the stdlib: every answer pays for it (bench/RESULTS.md)."""
    return web.Response(body=orjson.dumps(value), status=status, headers=headers, content_type="application/json")


async def read_json(request: web.Request) -> Any:
    limit = request.app[DISPATCHER].config.server.max_body_mb * 1024 * 1024
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("request body too large (limit: server.max_body_mb)")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge("request body too large (limit: server.max_body_mb)") from None
    if not raw:
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # also invalid UTF-8 and lone surrogates
        raise InvalidRequest("the request body is not valid JSON") from None


# ---------------------------------------------------------------- handlers


async def create_generation(request: web.Request) -> web.Response:
    token = authenticate(request)
    unified = parse_unified_request(await read_json(request))
    task = await dispatcher_of(request).submit(token, unified)
    return task_response(request, task)


async def get_task(request: web.Request) -> web.Response:
    token = authenticate(request)
    task = await dispatcher_of(request).get_task(token, request.match_info["task_id"])
    return task_response(request, task)


async def cancel_task(request: web.Request) -> web.Response:
    token = authenticate(request)
    task = await dispatcher_of(request).cancel(token, request.match_info["task_id"])
    return task_response(request, task)


async def list_models(request: web.Request) -> web.Response:
    token = authenticate(request)
    dispatcher = dispatcher_of(request)
    data = [
        {"id": model.name, "object": "model", "created": 0, "owned_by": model.vendor}
        for model in dispatcher.models_for(token)
    ]
    return json_response({"object": "list", "data": data})


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "version": __version__})


async def get_content(request: web.Request) -> web.StreamResponse:
    token = authenticate(request)
    variant = request.query.get("variant", "video")
    source = await dispatcher_of(request).open_content(token, request.match_info["task_id"], variant)
    if isinstance(source, LocalContent):
        return await kept_response(request, source.path, source.mime_type)
    return await proxy_content(request, source, dispatcher_of(request).http)
