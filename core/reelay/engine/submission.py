"""Submission: a request normalized per channel, recorded, and sent upstream with fail-over.

Remixes, extensions and edits start from a finished video: :mod:`reelay.engine.derived`.
"""

from __future__ import annotations

import secrets
from typing import Any

import attrs
import structlog

from ..errors import (
    FailureKind,
    InvalidRequest,
    ReelayError,
    UpstreamError,
    UpstreamUnavailable,
    ValueNotAllowed,
)
from ..models import (
    Adjustment,
    Channel,
    GenerationRequest,
    ModelSpec,
    Task,
    TaskError,
    Token,
    UnifiedRequest,
)
from ..normalize import normalize
from ..plugins import qualified_name
from .context import EngineContext
from .routing import Route, Router
from .schedule import Schedule
from .tasks import Tasks

log = structlog.get_logger("reelay")

#: How long a task may sit in submission before the poller treats it as
#: interrupted (the gateway stopped between recording it and hearing back).
SUBMISSION_GRACE_SECONDS = 120.0


def new_task_id() -> str:
    """An opaque, URL-safe public id with 144 random bits."""
    return "video_" + secrets.token_urlsafe(18)


class Submitter:
    """Sends new tasks upstream.

    The task row is written before the first upstream call and updated with
    the vendor's reference after it, so nothing accepted is lost: a row left
    without a reference is sent again by the tracker after
    :data:`SUBMISSION_GRACE_SECONDS`, through :meth:`send`.
    """

    def __init__(self, context: EngineContext, router: Router, schedule: Schedule, tasks: Tasks):
        self.context = context
        self.router = router
        self.schedule = schedule
        self.tasks = tasks

    async def submit(
        self,
        token: Token,
        unified: UnifiedRequest,
        pinned: tuple[Channel, tuple[str, ...]] | None = None,
        *,
        task_id: str | None = None,
    ) -> Task:
        """Validate, route and submit a request; returns the recorded task (its id ``task_id`` if given).

        ``pinned`` (a channel and the vendor's character ids, from
        :meth:`Characters.pin`) limits the request to that channel.

        Raises :class:`NotFound` or :class:`PermissionDenied` (the model),
        :class:`ValueNotAllowed` (no channel takes the exact values),
        :class:`InvalidRequest` (the vendor refused the caller's input), or
        :class:`UpstreamUnavailable` (every channel failed: 503 when all were
        rate-limited, else 502).
        """
        context = self.context
        # Each candidate channel comes with the model it serves: one model, or
        # for an alias each target's own, normalized by that model's rules.
        candidates = self.router.order_routes(self.router.routes(unified.model, token))
        alias = self.router.is_alias(unified.model)
        public_id = task_id or new_task_id()
        if pinned is not None:
            candidates = [route for route in candidates if route.channel.name == pinned[0].name]
        task: Task | None = None
        strict_error: ValueNotAllowed | None = None
        failures: list[UpstreamError] = []
        queue = list(candidates)
        while queue:
            model, channel = queue.pop(0)
            try:
                request = normalize(unified, model, context.config.policy_for(channel), public_id)
                if pinned is not None:
                    request = attrs.evolve(request, characters=pinned[1])
            except ValueNotAllowed as error:
                strict_error = strict_error or error  # this channel takes exact values only
                continue
            keyed = context.keys.pick(channel)  # a multi-key channel's next key in service
            if keyed is None:
                continue
            channel = keyed
            if alias:
                request = _served_by_alias(request, unified.model, model)
            if context.callback_url is not None and (callback := await context.callback_url(public_id, channel)):
                request = attrs.evolve(request, callback_url=callback)  # the vendor may call back (issue 18)
            payload = context.hooks(channel).reelay_build_payload(request=request, model=model, channel=channel)
            if payload is None:
                log.error("no plugin builds payloads for vendor", vendor=channel.vendor, channel=channel.name)
                continue
            task = await self.record(task, token, model, channel, request)
            try:
                # The row and its callback token are committed by now: a vendor may post to the
                # URL (a handshake) before it answers the create call.
                ref = await self.send(payload, request, channel)
            except UpstreamError as error:
                if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                    await self.tasks.withdraw(task, TaskError(error.code, error.message))
                    raise InvalidRequest(error.message, code=error.code, param=error.param) from None
                log.warning(
                    "channel failed at submission",
                    task_id=public_id,
                    channel=channel.name,
                    kind=error.kind.value,
                    code=error.code,
                )
                failures.append(error)
                if error.kind is FailureKind.CHANNEL and channel.key_index is not None:
                    queue.insert(0, Route(model, channel))  # the key is out: the channel's next key may serve
                continue
            except ReelayError as error:
                await self.tasks.withdraw(task, TaskError(error.code, error.message))
                raise
            except Exception:  # a plugin bug: this channel failed, the next may not
                log.exception("plugin raised while submitting", task_id=public_id, channel=channel.name)
                failures.append(UpstreamError(FailureKind.TRANSIENT, "plugin error", code="plugin_error"))
                continue
            task.vendor_ref = ref
            task.updated_at = context.clock()
            task.next_poll_at = task.updated_at + self.schedule.first_poll_delay(model, channel)
            await context.store.save_submission(task)
            context.wake()
            log.info("task accepted", task_id=task.id, model=model.name, channel=channel.name)
            context.events.request_accepted(task, request)
            return task
        if task is None:
            if strict_error is not None:
                raise strict_error
            raise UpstreamUnavailable("no channel could take this request", status=503, code="no_channel_available")
        await self.tasks.withdraw(task, TaskError("upstream_failed", "every eligible channel failed"))
        rate_limited = all(failure.kind is FailureKind.RATE_LIMITED for failure in failures)
        raise UpstreamUnavailable(
            f"every eligible channel failed ({len(failures)} tried): "
            + "; ".join(sorted({failure.code for failure in failures})),
            status=503 if rate_limited else 502,
            code="rate_limited" if rate_limited else "upstream_failed",
        )

    async def record(
        self, task: Task | None, token: Token, model: ModelSpec, channel: Channel, request: GenerationRequest
    ) -> Task:
        """Write the task before its upstream call: a new row, or the same row moved to
        the next channel. The next poll is set past the grace time, so a gateway that
        stops before hearing back has the poller send it again."""
        context = self.context
        now = context.clock()
        if task is None:
            task = Task(
                id=request.public_id,
                owner=token.name,
                model=self.context.registry.key_of(model),
                vendor=model.vendor,
                channel=channel.name,
                created_at=now,
                updated_at=now,
                seconds=request.duration,
                size=request.size,
                prompt=request.prompt,
                adjustments=request.adjustments,
                request=request,
                next_poll_at=now + SUBMISSION_GRACE_SECONDS,
                key_index=channel.key_index,
            )
            await context.billing.admit(token, task)  # the price held, or a 429 before any upstream call
            return task
        task.channel, task.model, task.vendor = channel.name, context.registry.key_of(model), model.vendor
        task.key_index = channel.key_index
        task.seconds, task.size, task.adjustments, task.request = (
            request.duration,
            request.size,
            request.adjustments,
            request,
        )
        task.next_poll_at = now + SUBMISSION_GRACE_SECONDS
        await context.store.save(task, with_request=True)
        return task

    async def send(self, payload: Any, request: GenerationRequest, channel: Channel) -> Any:
        """Submit ``payload`` through the channel's plugin; returns the vendor's reference.

        Raises :class:`UpstreamError` as the plugin does, scrubbed (``FailureKind.CHANNEL`` if none submits).
        """
        context = self.context
        awaitable = context.hooks(channel).reelay_submit(
            payload=payload, request=request, channel=channel, http=context.http
        )
        if awaitable is None:
            raise UpstreamError(FailureKind.CHANNEL, f"no plugin submits to vendor {channel.vendor!r}")
        return await context.calls.timed(channel, "submit", context.from_vendor(awaitable), request.model)


def _served_by_alias(request: GenerationRequest, alias: str, model: ModelSpec) -> GenerationRequest:
    """The request with the alias's resolution first among its adjustments: the
    task's public ``model`` stays the alias (:attr:`Task.public_model`)."""
    served = Adjustment("model", alias, qualified_name(model), f"alias {alias!r} served by vendor {model.vendor!r}")
    return attrs.evolve(request, adjustments=(served, *request.adjustments))
