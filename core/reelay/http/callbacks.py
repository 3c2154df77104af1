"""The route vendors call back on: ``POST /v1/callbacks/{vendor}/{token}``.

No bearer token: the path's token, random per task, is the credential (the
plugin checks what else its vendor signs). The answer says nothing about the
task beyond that the callback was taken, unless the vendor posted a
handshake: then it is what the plugin answers it with (a challenge echoed).
"""

from __future__ import annotations

from aiohttp import web

from ..errors import PayloadTooLarge
from .common import ROUTE_PREFIX, dispatcher_of, json_response

#: The largest callback body read (vendors send a task object, not a video).
MAX_CALLBACK_BYTES = 1024 * 1024


def setup_callback_routes(app: web.Application) -> None:
    app.router.add_post("/v1/callbacks/{vendor}/{token}", vendor_callback, name=ROUTE_PREFIX + "callback")


async def vendor_callback(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge("callback body too large")
    body = await request.content.read(MAX_CALLBACK_BYTES + 1)
    if len(body) > MAX_CALLBACK_BYTES:
        raise PayloadTooLarge("callback body too large")
    vendor, token = request.match_info["vendor"], request.match_info["token"]
    reply = await dispatcher_of(request).callbacks.receive(vendor, token, body, request.headers)
    return json_response({"received": True} if reply is None else dict(reply))  # a handshake: the plugin's answer
