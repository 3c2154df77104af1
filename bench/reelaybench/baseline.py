"""The baselines: bare aiohttp servers doing the least the gateway's job needs.

``status``: answers ``GET /v1/videos/{id}`` with a JSON body of the size the
gateway's answer has (serialized per request, as the gateway does).
``submit``: answers ``POST /v1/video/generations`` by making the same single
upstream call the gateway makes (replayed from the emulator's record) and
returning the vendor's JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HTTP = web.AppKey("reelaybench.http", aiohttp.ClientSession)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def status_app(body: dict[str, Any]) -> web.Application:
    async def get(request: web.Request) -> web.Response:
        return web.json_response(body, dumps=_dumps)

    app = web.Application()
    app.router.add_get("/v1/videos/{task_id}", get)
    return app


def submit_app(upstream: str, call: dict[str, Any]) -> web.Application:
    url = upstream.rstrip("/") + call["path"]
    headers = dict(call["headers"])
    payload = base64.b64decode(call["body"])
    template = json.loads(payload) if call["headers"].get("Content-Type", "").startswith("application/json") else None
    # A vendor id the caller chooses (Kling's external_task_id) must be new on each call, as the gateway's is.
    fresh_ids = [key for key in ("external_task_id",) if isinstance(template, dict) and key in template]

    async def session(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)  # as the dispatcher's
        app[HTTP] = aiohttp.ClientSession(connector=connector, trust_env=False)
        yield
        await app[HTTP].close()

    async def create(request: web.Request) -> web.Response:
        await request.read()
        body = payload
        if fresh_ids:
            body = json.dumps({**template, **{key: "video_" + secrets.token_urlsafe(18) for key in fresh_ids}}).encode()
        async with request.app[HTTP].post(url, data=body, headers=headers) as response:
            answer = await response.json(content_type=None)
            return web.json_response(answer, status=response.status, dumps=_dumps)

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/video/generations", create)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("status", "submit"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", help="status: a JSON file with the body to answer")
    parser.add_argument("--upstream", help="submit: the emulator's base URL")
    parser.add_argument("--call", help="submit: a JSON file with the recorded upstream call")
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args(argv)
    if args.mode == "status":
        app = status_app(json.loads(Path(args.body).read_text()))
    else:
        app = submit_app(args.upstream, json.loads(Path(args.call).read_text()))
    loop = None
    if args.uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None, loop=loop)


if __name__ == "__main__":
    main()
