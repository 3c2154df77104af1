"""The webhook delivery worker: sends recorded events, retrying with backoff until a receiver takes them.

It runs beside the poller, on its own client session, with its own bound
on concurrent deliveries and a short timeout for each, so a slow or dead
receiver holds up neither polling nor other receivers. Deliveries are
claimed with a lease in the store (two processes never send the same
attempt at once); each attempt is recorded with its outcome. A 2xx ends a
delivery, a 410 (the receiver is gone) gives it up, anything else (a
timeout, a connection error, another status) is tried again after an
exponential backoff with jitter, for ``[webhooks] retry_hours``.

Each delivery is signed as the Standard Webhooks specification says, with
the ``standardwebhooks`` package: ``webhook-id`` (the event id, the same on
every attempt), ``webhook-timestamp`` and ``webhook-signature``.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
from datetime import UTC, datetime

import aiohttp
import structlog
from standardwebhooks import Webhook

from ..fetch import UnsafeURL, pinned, public_address
from ..store.deliveries import DELIVERED, FAILED, PENDING, Attempt, Delivery
from .webhooks import Webhooks

log = structlog.get_logger("reelay.webhooks")

#: The longest the worker sleeps without looking for due deliveries (another process may have made some).
IDLE_SECONDS = 5.0
_NO_SECRET = "no webhook secret is configured"


def backoff_delay(attempt: int, base: float, ceiling: float) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): doubling from ``base`` up to
    ``ceiling``, each drawn between half and all of it (jitter, so receivers coming back
    are not hit by every sender at once)."""
    delay = min(ceiling, base * 2 ** min(attempt - 1, 40))
    return delay * random.uniform(0.5, 1.0)


def _shown(url: str) -> str:
    """A receiver's URL as listed: without its query string (it may carry a secret)."""
    return url.split("?", 1)[0].split("#", 1)[0]


class DeliveryWorker:
    """Sends due deliveries, ``[webhooks] concurrency`` at a time.

    :param webhooks: the engine's webhook part (its store tables, secrets and clock).
    """

    def __init__(self, webhooks: Webhooks):
        self.webhooks = webhooks
        self.config = webhooks.config
        self.clock = webhooks.context.clock
        self.lease = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._http: aiohttp.ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.config.concurrency, force_close=True)
        self._http = aiohttp.ClientSession(connector=connector, trust_env=False)
        self._runner = asyncio.create_task(self.run(), name="reelay-webhooks")

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except asyncio.CancelledError:
                pass
            self._runner = None
        for job in list(self._in_flight):
            job.cancel()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
        deliveries = self.webhooks.deliveries
        if deliveries is not None:
            try:
                await deliveries.release_leases(self.lease)
            except Exception:  # the store may be closed already; the leases expire
                log.warning("could not release delivery leases; they expire on their own")

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
                sleep = await self._sleep_time()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery tick failed")
                sleep = IDLE_SECONDS
            await self.webhooks.wait_for_due(sleep)

    async def tick(self) -> int:
        """Claim the deliveries due now and start sending them; returns how many."""
        deliveries = self.webhooks.deliveries
        room = self.config.concurrency - len(self._in_flight)
        if deliveries is None or room <= 0:
            return 0
        claimed = await deliveries.claim_due(self.clock(), self.lease, self.config.lease_seconds, room)
        for delivery in claimed:
            job = asyncio.create_task(self.deliver(delivery))
            self._in_flight.add(job)
            job.add_done_callback(self._done)
        return len(claimed)

    def _done(self, job: asyncio.Task[None]) -> None:
        self._in_flight.discard(job)
        self.webhooks.wake()  # room for more, and maybe a retry sooner than planned

    async def _sleep_time(self) -> float:
        deliveries = self.webhooks.deliveries
        due = await deliveries.next_due() if deliveries is not None else None
        if due is None:
            return IDLE_SECONDS
        return max(0.01, min(due - self.clock(), IDLE_SECONDS))

    async def deliver(self, delivery: Delivery) -> Attempt:
        """One attempt at ``delivery``, recorded with its outcome and the next retry."""
        status, error = await self._send(delivery)
        now = self.clock()
        number = delivery.attempts + 1
        next_retry: float | None = None
        if status is not None and 200 <= status < 300:
            state = DELIVERED
        elif status == 410 or error == _NO_SECRET or now - delivery.created_at >= self.config.retry_hours * 3600:
            state = FAILED  # the receiver is gone, or the gateway cannot sign, or we tried long enough
        else:
            state = PENDING
            next_retry = now + backoff_delay(number, self.config.backoff_seconds, self.config.max_backoff_seconds)
        attempt = Attempt(delivery.id, delivery.task_id, number, now, _shown(delivery.url), status, error, next_retry)
        deliveries = self.webhooks.deliveries
        if deliveries is not None and not await deliveries.record(attempt, lease=self.lease, state=state):
            log.warning("delivery lease lost before recording an attempt", event_id=delivery.id)
        log.info(
            "webhook attempt",
            event_id=delivery.id,
            task_id=delivery.task_id,
            attempt=number,
            status_code=status,
            error=error,
            state=state,
        )
        return attempt

    async def _send(self, delivery: Delivery) -> tuple[int | None, str | None]:
        """POST the event: ``(status code, None)``, or ``(None, what went wrong)``."""
        secret = self.webhooks.secret_of(delivery.owner)
        if not secret:
            return None, _NO_SECRET
        assert self._http is not None
        try:
            url, address = await public_address(delivery.url, allow_loopback=self.config.allow_loopback)
        except UnsafeURL as error:  # DNS may have changed since the URL was accepted
            return None, f"refused: {error}"
        target, headers, server_name = pinned(url, address)
        sent_at = datetime.fromtimestamp(int(self.clock()), tz=UTC)
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": "Reelay-Webhooks/1",
                "webhook-id": delivery.id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": Webhook(secret).sign(delivery.id, sent_at, delivery.body),
            }
        )
        try:
            async with asyncio.timeout(self.config.timeout_seconds):
                async with self._http.post(
                    target,
                    data=delivery.body.encode(),
                    headers=headers,
                    allow_redirects=False,
                    server_hostname=server_name,
                ) as response:
                    await response.read()
                    return response.status, None
        except TimeoutError:
            return None, f"timeout after {self.config.timeout_seconds:g} s"
        except aiohttp.ClientError as error:
            return None, f"connection error ({type(error).__name__})"
