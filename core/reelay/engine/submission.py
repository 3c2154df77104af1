"""Submission: a request normalized per channel, recorded, and sent upstream with fail-over; remixes."""

from __future__ import annotations

import secrets
from typing import Any

import attrs
import structlog

from ..errors import (
    Conflict,
    FailureKind,
    InvalidRequest,
    ReelayError,
    UpstreamError,
    UpstreamUnavailable,
    ValueNotAllowed,
)
from ..models import Channel, GenerationRequest, ModelSpec, Task, TaskError, TaskStatus, Token, UnifiedRequest
from ..normalize import normalize
from .context import EngineContext
from .routing import Router
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

    async def submit(self, token: Token, unified: UnifiedRequest, *, task_id: str | None = None) -> Task:
        """Validate, route and submit a request; returns the recorded task (its id ``task_id`` if given).

        Raises :class:`NotFound` or :class:`PermissionDenied` (the model),
        :class:`ValueNotAllowed` (no channel takes the exact values),
        :class:`InvalidRequest` (the vendor refused the caller's input), or
        :class:`UpstreamUnavailable` (every channel failed: 503 when all were
        rate-limited, else 502).
        """
        context = self.context
        model, channels = self.router.resolve_model(unified.model, token)
        public_id = task_id or new_task_id()
        candidates = self.router.order_channels(channels)
        task: Task | None = None
        strict_error: ValueNotAllowed | None = None
        failures: list[UpstreamError] = []
        for channel in candidates:
            try:
                request = normalize(unified, model, context.config.policy_for(channel), public_id)
            except ValueNotAllowed as error:
                strict_error = strict_error or error  # this channel takes exact values only
                continue
            payload = context.pm.hook.reelay_build_payload(request=request, model=model, channel=channel)
            if payload is None:
                log.error("no plugin builds payloads for vendor", vendor=channel.vendor, channel=channel.name)
                continue
            task = await self.record(task, token, model, channel, request)
            try:
                ref = await self.send(payload, request, channel)
            except UpstreamError as error:
                if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                    await self._fail(task, TaskError(error.code, error.message))
                    raise InvalidRequest(error.message, code=error.code, param=error.param) from None
                log.warning(
                    "channel failed at submission",
                    task_id=public_id,
                    channel=channel.name,
                    kind=error.kind.value,
                    code=error.code,
                )
                failures.append(error)
                continue
            except ReelayError as error:
                await self._fail(task, TaskError(error.code, error.message))
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
        await self._fail(task, TaskError("upstream_failed", "every eligible channel failed"))
        rate_limited = all(failure.kind is FailureKind.RATE_LIMITED for failure in failures)
        raise UpstreamUnavailable(
            f"every eligible channel failed ({len(failures)} tried): "
            + "; ".join(sorted({failure.code for failure in failures})),
            status=503 if rate_limited else 502,
            code="rate_limited" if rate_limited else "upstream_failed",
        )

    async def remix(self, token: Token, task_id: str, prompt: str) -> Task:
        """A new task remixing a completed one, pinned to the original's channel.

        Raises :class:`Conflict` if the original is not completed,
        :class:`InvalidRequest` if its vendor has no remix or refused the
        prompt, :class:`UpstreamUnavailable` otherwise.
        """
        context = self.context
        original = await self.tasks.get_task(token, task_id)
        if original.status is not TaskStatus.COMPLETED:
            raise Conflict(f"task {task_id} is {original.status.value}; only completed videos can be remixed")
        channel = context.channel_of(original)
        now = context.clock()
        task = attrs.evolve(
            original,
            id=new_task_id(),
            status=TaskStatus.QUEUED,
            progress=0,
            created_at=now,
            updated_at=now,
            completed_at=None,
            prompt=prompt,
            vendor_ref=None,
            result=None,
            error=None,
            adjustments=(),
            request=None,
            poll_failures=0,
            remixed_from=original.id,
            next_poll_at=now + SUBMISSION_GRACE_SECONDS,
            cost=None,
        )
        awaitable = context.pm.hook.reelay_remix(task=original, prompt=prompt, channel=channel, http=context.http)
        if awaitable is None:
            raise InvalidRequest(f"{original.vendor} has no remix", code="remix_not_supported", param="task_id")
        await context.billing.admit(token, task)
        try:
            task.vendor_ref = await awaitable
        except UpstreamError as error:
            await self._fail(task, TaskError(error.code, error.message))
            if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                raise InvalidRequest(error.message, code=error.code) from None
            raise UpstreamUnavailable(f"the remix could not be submitted: {error.message}") from None
        task.next_poll_at = now + self.schedule.first_poll_delay(context.registry.models[task.model], channel)
        await context.store.save_submission(task)
        context.wake()
        return task

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
                model=model.name,
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
            )
            await context.billing.admit(token, task)  # the price held, or a 429 before any upstream call
            return task
        task.channel = channel.name
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

        Raises :class:`UpstreamError` as the plugin does (``FailureKind.CHANNEL`` if none submits).
        """
        context = self.context
        awaitable = context.pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=context.http)
        if awaitable is None:
            raise UpstreamError(FailureKind.CHANNEL, f"no plugin submits to vendor {channel.vendor!r}")
        return await awaitable

    async def _fail(self, task: Task, error: TaskError) -> None:
        context = self.context
        previous = task.status
        task.status = TaskStatus.FAILED
        task.error = error
        task.completed_at = task.updated_at = context.clock()
        await context.store.save(task)
        if previous is not TaskStatus.FAILED:
            context.events.task_changed(task, previous)
