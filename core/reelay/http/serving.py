"""Running the gateway's HTTP server, with limits on slow clients.

aiohttp closes an idle keep-alive connection (``keepalive_timeout``), which
also bounds how slowly a client may send a second request on it, but waits
forever for the headers of a new connection's first request: a client
sending them a byte at a time (slowloris) would hold its socket for good.
:class:`_HeaderDeadline` closes such a connection after ``header_timeout``.
Bodies are bounded where they are read (:func:`reelay.http.common.body_deadline`),
and what is left of an unread body after the answer is read for at most as
long.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..config import ServerConfig

log = structlog.get_logger("reelay.http")

#: At most this long (seconds) is spent reading the rest of a body the answer did not need.
_MAX_LINGER = 10.0


@contextlib.asynccontextmanager
async def serving(app: web.Application, server: ServerConfig) -> AsyncIterator[str]:
    """Serve ``app`` on ``server.host``/``server.port`` (0: any free port) for the block; yields its base URL."""
    runner = web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=server.keepalive_timeout,
        lingering_time=min(server.body_timeout, _MAX_LINGER),
    )
    await runner.setup()
    try:
        assert runner.server is not None
        factory = _HeaderDeadline(runner.server, server.header_timeout)
        listener = await asyncio.get_running_loop().create_server(factory, server.host, server.port, reuse_address=True)
        try:
            port = listener.sockets[0].getsockname()[1]
            yield f"http://{server.host}:{port}"
        finally:
            listener.close()
            await listener.wait_closed()
    finally:
        await runner.cleanup()


def run(
    app: web.Application | Awaitable[web.Application],
    server: ServerConfig,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM (``reelay serve``, ``reelay demo``).

    :param app: the application, or an awaitable making it on the serving
        loop (as :func:`aiohttp.web.run_app` takes): one that starts
        servers of its own, such as the demo's emulators.
    :param ready: called with the base URL once the socket listens (what a
        script waiting for the "listening" line may rely on).
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        made = app if isinstance(app, web.Application) else await app
        async with serving(made, server) as base_url:
            if ready is not None:
                ready(base_url)
            await stop.wait()

    asyncio.run(main())


class _HeaderDeadline:
    """aiohttp's protocol factory, closing a connection whose first request
    headers have not all arrived ``timeout`` seconds after it opened."""

    def __init__(self, server: web.Server, timeout: float):
        self.server = server
        self.timeout = timeout

    def __call__(self) -> RequestHandler:
        handler = self.server()
        # Held until the deadline (RequestHandler takes no weak references): seconds, then freed.
        asyncio.get_running_loop().call_later(self.timeout, _expire, handler, self.timeout)
        return handler


def _expire(handler: RequestHandler, timeout: float) -> None:
    if handler.transport is None:  # already closed
        return
    # aiohttp counts the request heads parsed on each connection; it has no
    # public accessor (tests/test_serving.py pins the behaviour).
    if getattr(handler, "_request_count", 0) == 0:
        log.info("connection closed: no request headers in time", header_timeout=timeout)
        handler.force_close()
