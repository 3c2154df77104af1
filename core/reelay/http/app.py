"""The HTTP API: an app factory, and routes other aiohttp apps can mount.

``create_app(config)`` is the standalone gateway. ``setup_routes(app,
dispatcher)`` mounts the same routes into an existing application; the
error middleware only touches Reelay's own routes there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ..config import Config
from ..engine import Dispatcher
from ..engine.delivery import DeliveryWorker
from ..engine.poller import Poller
from . import admin, model_info, openai, openai_derived, routes, usage
from .callbacks import setup_callback_routes
from .capacity import capacity_middleware
from .common import DISPATCHER, OWNS_ALL_ROUTES, POLLER, PUBLIC_URL, ROUTE_PREFIX, Handler
from .metrics import metrics_middleware, metrics_page
from .middleware import error_middleware
from .notify import setup_notify_routes
from .openapi import docs_page, openapi_json
from .streaming import OPEN_STREAMS, end_open_streams

__all__ = ["DISPATCHER", "POLLER", "PUBLIC_URL", "create_app", "error_middleware", "setup_routes"]


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
    app[OPEN_STREAMS] = set()
    app.on_shutdown.append(end_open_streams)  # event streams end with the gateway, not with their tasks
    if error_middleware not in app.middlewares:
        app.middlewares.append(error_middleware)
    if dispatcher.config.server.max_connections:  # inside the error middleware, which renders its 429
        app.middlewares.append(capacity_middleware(dispatcher.config.server.max_connections))
    public = dispatcher.config.server.public_url
    if public:
        app[PUBLIC_URL] = public.rstrip("/")

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await dispatcher.start()
        running = None
        delivering = None
        if poller:
            running = Poller(dispatcher)
            app[POLLER] = running
            running.start()
            if dispatcher.webhooks.enabled:  # webhooks go out with the poller, on their own worker
                delivering = DeliveryWorker(dispatcher.webhooks)
                delivering.start()
        try:
            yield
        finally:
            if delivering is not None:
                await delivering.stop()
            if running is not None:
                await running.stop()
            await dispatcher.stop()

    if dispatcher.metrics is not None:
        app.middlewares.insert(0, metrics_middleware(dispatcher.metrics))  # outermost: sees final statuses

    app.cleanup_ctx.append(lifecycle)
    router = app.router
    table: list[tuple[str, str, Handler, str]] = [
        ("POST", "/v1/video/generations", routes.create_generation, "create"),
        ("GET", "/v1/video/generations/{task_id}", routes.get_task, "get_generation"),
        ("GET", "/v1/videos/{task_id}", routes.get_task, "get_video"),
        ("GET", "/v1/videos/{task_id}/content", routes.get_content, "content"),
        ("POST", "/v1/videos/{task_id}/cancel", routes.cancel_task, "cancel"),
        ("GET", "/v1/models", routes.list_models, "models"),
        # {model_id:.+}: a qualified name ("vendor/model") has a slash, and works unescaped.
        ("GET", "/v1/models/{model_id:.+}", model_info.get_model, "model"),
        ("GET", "/healthz", routes.healthz, "healthz"),
        ("GET", "/openapi.json", openapi_json, "openapi"),
        ("GET", "/docs", docs_page, "docs"),
    ]
    for method, path, handler, name in table:
        if method == "GET":
            router.add_get(path, handler, name=ROUTE_PREFIX + name)  # answers HEAD too
        else:
            router.add_route(method, path, handler, name=ROUTE_PREFIX + name)
    if dispatcher.metrics is not None:
        router.add_get("/metrics", metrics_page, name=ROUTE_PREFIX + "metrics")
    openai.setup_openai_routes(app)
    admin.setup_admin_routes(app, dispatcher.config.admin.key)
    openai_derived.setup_derived_routes(app)
    setup_notify_routes(app, dispatcher)
    setup_callback_routes(app)
    usage.setup_usage_routes(app)
