"""Webhooks to callers: a task's end becomes an event, kept in the store until its receiver has it.

:class:`Webhooks` listens to the engine's events (the same moments as the
``reelay_task_changed`` hook): when a task completes, fails or is
cancelled, it records one delivery for the caller's receiver (the URL the
request named, else its token's) with the body fixed once, so every attempt
sends the same bytes under the same ``webhook-id``. The
:class:`~reelay.engine.delivery.DeliveryWorker` sends them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from ..errors import InvalidRequest
from ..fetch import UnsafeURL, public_address
from ..models import Task, TaskStatus, Token
from ..store.deliveries import Attempt, Deliveries, Delivery
from ..store.sqlite_database import SQLiteDatabase
from .context import EngineContext

log = structlog.get_logger("reelay.webhooks")

#: The event sent for each final status (OpenAI's names).
EVENT_TYPES = {
    TaskStatus.COMPLETED: "video.completed",
    TaskStatus.FAILED: "video.failed",
    TaskStatus.CANCELLED: "video.cancelled",
}

Render = Callable[[Task], dict[str, Any]]


def _bare_task(task: Task) -> dict[str, Any]:
    """The task object without the HTTP edge (a dispatcher used as a library)."""
    return {"id": task.id, "object": "video", "model": task.model, "status": task.status.value}


def event_id(task_id: str, event_type: str) -> str:
    """The one id of a task's event: made twice (two processes, a retry), it is still one event."""
    return "evt_" + hashlib.sha256(f"{task_id}\0{event_type}".encode()).hexdigest()[:32]


class Webhooks:
    """Makes webhook events and answers about deliveries.

    :param context: the engine's shared state (configuration, store, clock, events).
    """

    def __init__(self, context: EngineContext):
        self.context = context
        self.config = context.config.webhooks
        self.tokens = {token.name: token for token in context.config.tokens}
        #: How the task object looks in an event; the HTTP layer installs its own.
        self.render: Render = _bare_task
        self.deliveries: Deliveries | None = None
        self._making: set[asyncio.Task[Any]] = set()
        self._due = asyncio.Event()
        context.events.add_listener(self._task_changed)

    @property
    def enabled(self) -> bool:
        """Whether the store keeps deliveries (SQLite and PostgreSQL do) and some token has a secret."""
        return self.deliveries is not None and any(token.webhook_secret for token in self.tokens.values())

    async def open(self) -> None:
        store = getattr(self.context.store, "inner", self.context.store)  # the store under a metrics wrapper
        if isinstance(store, SQLiteDatabase) or hasattr(store, "connect"):
            self.deliveries = Deliveries(store, postgres=not isinstance(store, SQLiteDatabase))  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._making:
            await asyncio.gather(*self._making, return_exceptions=True)
        self.deliveries = None

    def secret_of(self, owner: str) -> str | None:
        token = self.tokens.get(owner)
        return token.webhook_secret if token is not None else None

    # ------------------------------------------------------------ targets

    async def check_target(self, token: Token, url: str) -> None:
        """Refuse a request's ``webhook_url`` the gateway would not call (400, ``param: webhook_url``)."""
        if not token.webhook_secret or self.deliveries is None:
            raise InvalidRequest(
                "webhook_url needs a webhook_secret configured for this token",
                param="webhook_url",
                code="webhooks_not_configured",
            )
        try:
            await public_address(url, allow_loopback=self.config.allow_loopback)
        except UnsafeURL as error:
            raise InvalidRequest(f"webhook_url: {error}", param="webhook_url", code="invalid_webhook_url") from None

    async def set_target(self, task: Task, url: str) -> None:
        """Send ``task``'s events to ``url``; if it ended meanwhile, make its event now."""
        if self.deliveries is None:
            return
        await self.deliveries.set_target(task.id, url)
        if task.is_terminal:
            await self.make_event(task)

    # ------------------------------------------------------------ events

    def _task_changed(self, task: Task, previous: TaskStatus) -> None:
        if task.status not in EVENT_TYPES or self.deliveries is None:
            return
        making = asyncio.ensure_future(self.make_event(task))
        self._making.add(making)
        making.add_done_callback(self._made)

    def _made(self, making: asyncio.Task[Any]) -> None:
        self._making.discard(making)
        if not making.cancelled() and making.exception() is not None:
            log.error("could not record a webhook event", error=str(making.exception()))

    async def make_event(self, task: Task) -> Delivery | None:
        """Record the event of ``task``'s end for its receiver, once; None if it has none."""
        deliveries = self.deliveries
        if deliveries is None or task.status not in EVENT_TYPES:
            return None
        token = self.tokens.get(task.owner)
        url = await deliveries.target(task.id) or (token.webhook_url if token is not None else None)
        if url is None or not self.secret_of(task.owner):
            return None
        kind = EVENT_TYPES[task.status]
        now = self.context.clock()
        identity = event_id(task.id, kind)
        body = {"id": identity, "type": kind, "created_at": int(now), "data": self.render(task)}
        text = orjson.dumps(body).decode()
        delivery = Delivery(identity, task.id, task.owner, kind, url, text, now, next_attempt_at=now)
        if await deliveries.add(delivery):
            log.info("webhook event recorded", task_id=task.id, type=kind, event_id=identity)
            self._due.set()
        return delivery

    # ------------------------------------------------------------ for the delivery worker and the API

    async def wait_for_due(self, timeout: float) -> None:
        """Sleep until a new event is recorded here or ``timeout`` seconds pass."""
        try:
            async with asyncio.timeout(timeout):
                await self._due.wait()
        except TimeoutError:
            pass
        self._due.clear()

    def wake(self) -> None:
        self._due.set()

    async def attempts(self, task_id: str) -> list[Attempt]:
        """The task's delivery attempts, oldest first (the caller's ownership is checked by the caller)."""
        return await self.deliveries.attempts(task_id) if self.deliveries is not None else []

    async def pending(self, task_id: str) -> list[Delivery]:
        return await self.deliveries.of_task(task_id) if self.deliveries is not None else []
