"""The whole process's cap on requests in flight (``[server] max_connections``).

One counter, raised when a request comes in and lowered when its handler
returns (a stream the handler writes, such as the event stream, when it
ends): past the cap a request is answered 429
``too_many_connections`` with ``Retry-After: 1`` at once, before any handler,
body read or store access.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..errors import RateLimited
from .common import Handler

#: Seconds a refused caller is told to wait.
RETRY_AFTER = "1"


def capacity_middleware(limit: int) -> Middleware:
    """A middleware letting at most ``limit`` requests run at once; raises :class:`RateLimited` past it.

    It goes inside the error middleware, which renders the error.
    """
    in_flight = 0

    @web.middleware
    async def capacity(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if in_flight >= limit:
            raise RateLimited(
                f"the gateway is serving its maximum of {limit} requests (server.max_connections); retry shortly",
                code="too_many_connections",
                headers={"Retry-After": RETRY_AFTER},
            )
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return capacity
