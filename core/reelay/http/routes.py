"""The unified routes: create, read, cancel, content, models, health."""

from __future__ import annotations

from aiohttp import web

from .. import __version__
from ..engine import LocalContent
from ..engine.routing import ALIAS_OWNER
from . import idempotent
from .common import authenticate, dispatcher_of, json_response, read_json, task_response
from .content import kept_response, proxy_content
from .model_info import alias_entry, model_entry
from .wire import parse_unified_request


async def create_generation(request: web.Request) -> web.Response:
    token = authenticate(request)
    unified = parse_unified_request(await read_json(request))
    return await idempotent.submit(request, token, unified)


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
    router = dispatcher.router
    data = [model_entry(model, dispatcher, router.public_name(model)) for model in dispatcher.models_for(token)]
    data += [alias_entry(name, dispatcher) for name, owner in router.model_names_for(token) if owner == ALIAS_OWNER]
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
