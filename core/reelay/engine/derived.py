"""Derived tasks: remixes, extensions and edits of a video, each a new task with its own id and lifecycle.

A derived task of a completed task runs on the source's channel (the
vendor's id of the source is only valid there) and records the source in
``remixed_from`` (``remixed_from_video_id`` on the wire). A derived task of
an uploaded video is routed by its model to the first channel that serves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ..errors import Conflict, FailureKind, InvalidRequest, UpstreamError, UpstreamUnavailable
from ..models import (
    Channel,
    GenerationRequest,
    ModelSpec,
    SourceVideo,
    Task,
    TaskError,
    TaskStatus,
    Token,
    VendorRef,
)
from .context import EngineContext
from .routing import Router
from .schedule import Schedule
from .submission import SUBMISSION_GRACE_SECONDS, new_task_id
from .tasks import Tasks

log = structlog.get_logger("reelay")

#: Starts the vendor's work on a channel: the hook's awaitable, or None when the vendor cannot.
Start = Callable[[SourceVideo, Channel], "Awaitable[VendorRef] | None"]


def not_supported(model: str, operation: str, param: str | None = None) -> InvalidRequest:
    """The 400 for an operation a model (its vendor) does not have."""
    return InvalidRequest(f"model {model!r} does not support {operation}", code="not_supported", param=param)


class DerivedTasks:
    """Starts derived tasks: the one path remixes, extensions and edits share."""

    def __init__(self, context: EngineContext, router: Router, schedule: Schedule, tasks: Tasks):
        self.context = context
        self.router = router
        self.schedule = schedule
        self.tasks = tasks

    # ------------------------------------------------------------ the operations

    async def remix(self, token: Token, task_id: str, prompt: str) -> Task:
        """A remix of a completed task. 400 ``remix_not_supported`` when its vendor has none."""
        source, model, channel = await self._source_task(token, task_id, "remixed")

        def start(video: SourceVideo, channel: Channel) -> Any:
            assert video.task is not None
            return self.context.hooks(channel).reelay_remix(
                task=video.task, prompt=prompt, channel=channel, http=self._http
            )

        unsupported = InvalidRequest(f"{model.vendor} has no remix", code="remix_not_supported", param="task_id")
        return await self._derive(token, source, model, channel, start, prompt=prompt, unsupported=unsupported)

    async def extend(
        self, token: Token, video: SourceVideo | str, prompt: str, seconds: int, model_name: str | None = None
    ) -> Task:
        """An extension of ``seconds`` seconds of a completed task (its id) or of an uploaded video."""
        source, model, channel = await self._resolve(token, video, model_name, "extend")
        allowed = model.capabilities.extension_seconds
        if allowed and seconds not in allowed:
            raise InvalidRequest(
                f"model {model.name!r} extends by {', '.join(map(str, allowed))} seconds, not {seconds}",
                param="seconds",
                code="invalid_value",
            )

        def start(video: SourceVideo, channel: Channel) -> Any:
            hook = self.context.hooks(channel).reelay_extend
            return hook(source=video, prompt=prompt, seconds=seconds, channel=channel, http=self._http)

        total = (source.task.seconds or 0) + seconds if source.task is not None else seconds
        return await self._derive(token, source, model, channel, start, prompt=prompt, seconds=total)

    async def edit(self, token: Token, video: SourceVideo | str, prompt: str, model_name: str | None = None) -> Task:
        """An edit of a completed task (its id) or of an uploaded video."""
        source, model, channel = await self._resolve(token, video, model_name, "edit")

        def start(video: SourceVideo, channel: Channel) -> Any:
            return self.context.hooks(channel).reelay_edit(
                source=video, prompt=prompt, channel=channel, http=self._http
            )

        return await self._derive(token, source, model, channel, start, prompt=prompt)

    # ------------------------------------------------------------ finding the source

    @property
    def _http(self) -> Any:
        return self.context.http

    async def _source_task(self, token: Token, task_id: str, verb: str) -> tuple[SourceVideo, ModelSpec, Channel]:
        task = await self.tasks.get_task(token, task_id)
        if task.status is not TaskStatus.COMPLETED:
            raise Conflict(
                f"task {task_id} is {task.status.value}; only completed videos can be {verb}",
                param="video",
                code="video_not_completed",
            )
        model = self.context.registry.spec_of(task)
        if model is None:
            raise Conflict(f"the model of task {task_id} ({task.model}) is no longer installed", param="video")
        return SourceVideo(task=task), model, self.context.channel_of(task)

    async def _resolve(
        self, token: Token, video: SourceVideo | str, model_name: str | None, operation: str
    ) -> tuple[SourceVideo, ModelSpec, Channel]:
        """The source, its model and channel; 400 ``not_supported`` when the model lacks ``operation``."""
        if isinstance(video, str):
            source, model, channel = await self._source_task(token, video, operation + "ed")
            if model_name is not None and self.router.resolve_model(model_name, token)[0].name != model.name:
                raise InvalidRequest(f"the video was made by {model.name!r}, not {model_name!r}", param="model")
        else:
            source = video
            model, channel = self._route_upload(token, model_name, operation)
        vendor = self.context.registry.vendors.get(model.vendor)
        if not model.capabilities.operations(vendor)[operation]:
            raise not_supported(model.name, operation, param="model" if model_name else "video")
        return source, model, channel

    def _route_upload(self, token: Token, model_name: str | None, operation: str) -> tuple[ModelSpec, Channel]:
        """The model named (else the token's first model that can) and its first channel."""
        if model_name is None:
            able = [m for m in self.router.models_for(token) if getattr(m.capabilities, operation)]
            if not able:
                raise InvalidRequest(f"no model available to this token supports {operation}", code="not_supported")
            model_name = able[0].name
        model, channels = self.router.resolve_model(model_name, token)
        picks = (self.context.keys.pick(channel) for channel in self.router.order_channels(channels))
        keyed = next((channel for channel in picks if channel is not None), None)  # the first with a key in service
        if keyed is None:
            raise UpstreamUnavailable("no channel could take this request", status=503, code="no_channel_available")
        return model, keyed

    # ------------------------------------------------------------ the one path

    async def _derive(
        self,
        token: Token,
        source: SourceVideo,
        model: ModelSpec,
        channel: Channel,
        start: Start,
        *,
        prompt: str,
        seconds: int | None = None,
        unsupported: InvalidRequest | None = None,
    ) -> Task:
        """Record the new task, start it upstream, and hand it to the poller."""
        context = self.context
        now = context.clock()
        original = source.task
        task = Task(
            id=new_task_id(),
            owner=token.name,
            model=model.name,
            vendor=model.vendor,
            channel=channel.name,
            created_at=now,
            updated_at=now,
            seconds=seconds if seconds is not None else (original.seconds if original else None),
            size=original.size if original else None,
            prompt=prompt,
            remixed_from=original.id if original else None,
            # The alias the caller asked for stays the task's public model.
            adjustments=tuple(a for a in original.adjustments if a.field == "model") if original else (),
            next_poll_at=now + SUBMISSION_GRACE_SECONDS,
            key_index=channel.key_index,  # a source task's own key, or the key picked for an upload
        )
        awaitable = start(source, channel)
        if awaitable is None:
            raise unsupported or not_supported(model.name, "this operation")
        await context.billing.admit(token, task)  # the task's own hold, refused (429) before any upstream call
        try:
            task.vendor_ref = await context.calls.timed(channel, "derive", context.from_vendor(awaitable), model.name)
        except UpstreamError as error:
            await self.tasks.withdraw(task, TaskError(error.code, error.message))
            if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                raise InvalidRequest(error.message, code=error.code, param=error.param) from None
            raise UpstreamUnavailable(f"the vendor did not start the task: {error.message}") from None
        except Exception:
            await self.tasks.withdraw(task, TaskError("plugin_error", "the vendor plugin failed"))
            raise
        task.updated_at = context.clock()
        task.next_poll_at = now + self.schedule.first_poll_delay(model, channel)
        await context.store.save_submission(task)
        context.wake()
        log.info("derived task accepted", task_id=task.id, source=task.remixed_from, channel=channel.name)
        request = GenerationRequest(
            model=model.name, prompt=prompt, duration=task.seconds, size=task.size, public_id=task.id
        )
        context.events.request_accepted(task, request)
        return task
