"""Vendor callbacks: the vendor tells the gateway a task changed, instead of waiting for a poll.

For a vendor whose :class:`~reelay.models.VendorSpec` says ``callbacks``, and
when ``[server] public_url`` is set, each submission carries a callback URL
on the gateway's own route ``/v1/callbacks/{vendor}/{token}``, the token
random and unguessable per task. When the vendor posts there, the plugin
first says whether the post is a handshake to answer (``reelay_callback_reply``:
a challenge some vendors post before they create the task); otherwise it
reads the body into a status update (``reelay_parse_callback``) and the task
is settled at once, under a lease as a poll would be. Polling goes on at a
slower backstop rate (:data:`BACKSTOP_FACTOR`) in case a callback is lost.
A forged callback (unknown token, or a body the plugin refuses) or a
replayed one (the task already moved past it) changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Any

import structlog

from ..errors import InvalidRequest, NotFound
from ..models import Channel, Task, TaskStatus
from ..store.callbacks import CallbackTokens
from ..store.sqlite_database import SQLiteDatabase
from .context import EngineContext
from .schedule import Schedule
from .tracking import Tracker

log = structlog.get_logger("reelay.callbacks")

#: How much slower tasks with a callback are polled (a backstop for lost callbacks).
BACKSTOP_FACTOR = 4.0
#: How long a callback waits for a poll in flight to release its task.
CLAIM_PATIENCE = 2.0

_ORDER = {TaskStatus.QUEUED: 0, TaskStatus.IN_PROGRESS: 1}


class Callbacks:
    """Hands out callback URLs and applies what vendors post to them.

    :param context: the engine's shared state.
    :param schedule: told which vendors call back (their tasks are polled slower).
    :param tracker: settles a task with an update, as after a poll.
    """

    def __init__(self, context: EngineContext, schedule: Schedule, tracker: Tracker):
        self.context = context
        self.tracker = tracker
        public = context.config.server.public_url
        self.base = public.rstrip("/") if public else None
        self.vendors = frozenset(name for name, spec in context.registry.vendors.items() if spec.callbacks)
        self.tokens: CallbackTokens | None = None
        self.lease = f"{socket.gethostname()}:{os.getpid()}:callback:{secrets.token_hex(4)}"
        if self.base is not None:
            schedule.backstop = {vendor: BACKSTOP_FACTOR for vendor in self.vendors}
            context.callback_url = self.url_for

    async def open(self) -> None:
        store = getattr(self.context.store, "inner", self.context.store)  # the store under a metrics wrapper
        if self.base is None or not self.vendors:
            return
        if isinstance(store, SQLiteDatabase) or hasattr(store, "connect"):
            self.tokens = CallbackTokens(store, postgres=not isinstance(store, SQLiteDatabase))

    async def url_for(self, task_id: str, channel: Channel) -> str | None:
        """A new callback URL for ``task_id`` on ``channel``, or None when its vendor does not call back."""
        if self.tokens is None or channel.vendor not in self.vendors:
            return None
        token = secrets.token_urlsafe(32)
        await self.tokens.add(token, task_id, channel.vendor, self.context.clock())
        return f"{self.base}/v1/callbacks/{channel.vendor}/{token}"

    async def receive(
        self, vendor: str, token: str, body: bytes, headers: Mapping[str, str]
    ) -> Mapping[str, Any] | None:
        """Answer or apply a vendor's callback.

        :return: the JSON body to answer with, when the plugin reads the post
            as a handshake (``reelay_callback_reply``; the task is not
            changed); None when it was read as a status (applied, or a replay
            that changes nothing).
        :raises NotFound: an unknown token, or one of another vendor (a forgery).
        :raises InvalidRequest: a body the plugin does not accept.
        """
        found = await self.tokens.find(token) if self.tokens is not None else None
        if found is None or found[1] != vendor:
            raise NotFound("no such callback", code="callback_not_found")
        task_id = found[0]
        # Before any claim: a handshake comes while the create call is in flight, and
        # a resend of an interrupted submission holds the task's lease meanwhile.
        reply = await self._reply(task_id, body, headers)
        if reply is not None:
            log.info("vendor callback answered", task_id=task_id, vendor=vendor)
            return reply
        await self._apply(task_id, vendor, body, headers)
        return None

    async def _reply(self, task_id: str, body: bytes, headers: Mapping[str, str]) -> Mapping[str, Any] | None:
        """What the task's plugin answers the post with (``reelay_callback_reply``), or None."""
        context = self.context
        task = await context.store.get(task_id)
        channel = context.channel_for(task) if task is not None else None
        if task is None or channel is None:
            return None
        try:
            return context.hooks(channel).reelay_callback_reply(body=body, headers=headers, task=task, channel=channel)
        except Exception:  # a plugin bug: the body is read as a status instead
            log.exception("plugin raised answering a callback", task_id=task_id, vendor=channel.vendor)
            return None

    async def _apply(self, task_id: str, vendor: str, body: bytes, headers: Mapping[str, str]) -> Task:
        """Read the post as a status update and settle the task with it; the task as it now is."""
        context = self.context
        lease = f"{self.lease}:{secrets.token_hex(4)}"  # this callback's own
        task = await self._claim(task_id, lease)
        if task is None:  # ended already (a replay), or a poll kept it: nothing to do now
            stored = await context.store.get(task_id)
            if stored is None:
                raise NotFound("no such callback", code="callback_not_found")
            return stored
        channel = context.channel_for(task)
        update = None
        if channel is not None:
            try:
                update = context.hooks(channel).reelay_parse_callback(
                    body=body, headers=headers, task=task, channel=channel
                )
            except Exception:  # a plugin bug or a body it chokes on: the poll backstop still runs
                log.exception("plugin raised reading a callback", task_id=task_id, vendor=vendor)
        if update is None or _backwards(task, update.status):
            await context.store.release_leases(lease)  # hands the task back untouched
            if update is None:
                raise InvalidRequest("the callback body is not valid for this task", code="invalid_callback")
            return task
        log.info("vendor callback", task_id=task_id, vendor=vendor, status=update.status.value)
        return await self.tracker.apply(task, lease, update)

    async def _claim(self, task_id: str, lease: str) -> Task | None:
        assert self.tokens is not None
        context = self.context
        deadline = context.clock() + CLAIM_PATIENCE
        while True:
            now = context.clock()
            task = await self.tokens.claim(task_id, lease, now, context.config.poller.lease_seconds)
            if task is not None:
                return task
            stored = await context.store.get(task_id)
            if stored is None or stored.is_terminal or now > deadline:
                return None
            await asyncio.sleep(0.02)  # a poll holds it: wait for its save


def _backwards(task: Task, status: TaskStatus) -> bool:
    """Whether ``status`` would move the task back (a callback replayed out of order)."""
    return not status.is_terminal and _ORDER.get(status, 0) < _ORDER.get(task.status, 0)
