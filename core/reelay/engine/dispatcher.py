"""The dispatcher: tokens, models, channels, submission with fail-over, polling.

Usable as a library: ``async with Dispatcher(config) as dispatcher: ...``, or
mounted into an aiohttp application with :func:`reelay.http.app.setup_routes`.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import os
import random
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pluggy
import structlog

from ..config import Config, ConfigError, hash_key, validate
from ..errors import (
    AuthenticationError,
    Conflict,
    FailureKind,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ReelayError,
    UpstreamError,
    UpstreamUnavailable,
    ValueNotAllowed,
)
from ..models import (
    Channel,
    ContentSource,
    GenerationRequest,
    ModelSpec,
    StatusUpdate,
    Task,
    TaskError,
    TaskStatus,
    Token,
    UnifiedRequest,
    VideoResult,
)
from ..normalize import normalize
from ..plugins import Registry, make_plugin_manager
from ..store import Store, open_store
from .keeping import NotKept, keep_copy, kept_path, write_kept

log = structlog.get_logger("reelay")

#: How long a task may sit in submission before the poller treats it as
#: interrupted (the gateway stopped between recording it and hearing back).
SUBMISSION_GRACE_SECONDS = 120.0
#: Finished videos copied at once; more wait their turn (each is disk and network work).
COPY_CONCURRENCY = 4
#: A copy taking longer than this (seconds) is given up; the video is relayed instead.
COPY_TIMEOUT = 300.0
#: How long a download waits for a copy under way before it relays from the vendor.
COPY_WAIT = 30.0
#: How long a copy waits for the event loop to be free before it starts anyway.
COPY_DEFER = 30.0
#: The event loop is busy when a short sleep overshoots by more than this (seconds).
BUSY_LAG = 0.005
#: At start, tasks completed this recently without a kept copy are copied (seconds).
KEEP_MISSING_WITHIN = 86400.0
KEEP_MISSING_LIMIT = 10_000


def new_task_id() -> str:
    """An opaque, URL-safe public id with 144 random bits."""
    return "video_" + secrets.token_urlsafe(18)


@attrs.frozen
class LocalContent:
    """A result the gateway stored itself."""

    path: str
    mime_type: str


class Dispatcher:
    """Routes unified requests to vendor channels and tracks the tasks.

    :param config: the gateway configuration.
    :param pm: a plugin manager (default: the installed plugins).
    :param store: a task store (default: the one ``config.store.url`` names).
    """

    def __init__(
        self,
        config: Config,
        *,
        pm: pluggy.PluginManager | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.pm = pm or make_plugin_manager()
        self.registry = Registry.collect(self.pm)
        problems = validate(config, self.registry, self.pm)
        if problems:
            raise ConfigError(problems)
        self.channels = {channel.name: self._with_defaults(channel) for channel in config.channels}
        # Which channels can serve which model is fixed by the configuration:
        # worked out once here, not on every request.
        self._serving: dict[str, list[Channel]] = {
            model.name: [channel for channel in self.channels.values() if self._serves(model, channel)]
            for model in self.registry.models.values()
        }
        self.tokens = {token.key_sha256: token for token in config.tokens}
        self.store = store or open_store(config.store.url)
        self.clock = clock
        self.results_dir = Path(config.store.results_dir).absolute()
        self._http: aiohttp.ClientSession | None = None
        self._own_http = False
        self._new_work = asyncio.Event()
        # Copies of finished videos in flight by task id (``[store] keep_results``),
        # each with the event a download sets to hurry it.
        self._copies: dict[str, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._copy_slots = asyncio.Semaphore(COPY_CONCURRENCY)

    def _with_defaults(self, channel: Channel) -> Channel:
        vendor = self.registry.vendors[channel.vendor]
        if not channel.base_url and vendor.default_base_url:
            channel = attrs.evolve(channel, base_url=vendor.default_base_url)
        return channel

    # ------------------------------------------------------------ lifecycle

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("the dispatcher is not started")
        return self._http

    async def start(self, http: aiohttp.ClientSession | None = None) -> None:
        await self.store.open()
        if http is None:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=64)
            self._http = aiohttp.ClientSession(connector=connector, trust_env=False)
            self._own_http = True
        else:
            self._http = http

    async def stop(self) -> None:
        copies = [copy for copy, _ in self._copies.values()]
        for copy in copies:  # the next start copies them again
            copy.cancel()
        await asyncio.gather(*copies, return_exceptions=True)
        if self._http is not None and self._own_http:
            await self._http.close()
        self._http = None
        await self.store.close()

    async def __aenter__(self) -> Dispatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ callers

    def authenticate(self, authorization: str | None) -> Token:
        """The token named by an ``Authorization: Bearer`` header."""
        if not authorization:
            raise AuthenticationError("missing Authorization header; send 'Authorization: Bearer <token>'")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        digest = hash_key(key)
        token = self.tokens.get(digest)
        # Looking up by hash never compares the secret itself; the final
        # compare is constant-time all the same.
        if token is None or not hmac.compare_digest(token.key_sha256, digest):
            raise AuthenticationError("invalid API token")
        return token

    def _serves(self, model: ModelSpec, channel: Channel) -> bool:
        if channel.vendor != model.vendor or (channel.models and model.name not in channel.models):
            return False
        answer = self.pm.hook.reelay_channel_serves(model=model, channel=channel)
        return answer is None or bool(answer)

    def channels_for(self, model: ModelSpec, group: str) -> list[Channel]:
        return [channel for channel in self._serving.get(model.name, ()) if group in channel.groups]

    def models_for(self, token: Token) -> list[ModelSpec]:
        return [model for model in self.registry.models.values() if self.channels_for(model, token.group)]

    def resolve_model(self, name: str, token: Token) -> tuple[ModelSpec, list[Channel]]:
        """The model a name (or alias) means, and the channels the token may use for it."""
        model = self.registry.model(name)
        if model is None:
            raise NotFound(f"model {name!r} does not exist", param="model", code="model_not_found")
        channels = self.channels_for(model, token.group)
        if not channels:
            raise PermissionDenied(f"model {name!r} is not available to this token", param="model")
        return model, channels

    def order_channels(self, channels: list[Channel]) -> list[Channel]:
        """Highest priority first; within a priority, a random order weighted by ``weight``."""
        if len(channels) < 2:
            return channels
        ordered: list[Channel] = []
        for priority in sorted({channel.priority for channel in channels}, reverse=True):
            pool = [channel for channel in channels if channel.priority == priority]
            while pool:
                weights = [channel.weight for channel in pool]
                if sum(weights) <= 0:
                    ordered.extend(pool)
                    break
                pick = random.choices(pool, weights=weights)[0]
                ordered.append(pick)
                pool.remove(pick)
        return ordered

    # ------------------------------------------------------------ submission

    async def submit(self, token: Token, unified: UnifiedRequest) -> Task:
        """Validate, route and submit a request; returns the recorded task.

        The task row is written before the first upstream call and updated
        with the vendor's reference after it, so nothing accepted is lost.
        """
        model, channels = self.resolve_model(unified.model, token)
        public_id = new_task_id()
        candidates = self.order_channels(channels)
        task: Task | None = None
        strict_error: ValueNotAllowed | None = None
        failures: list[UpstreamError] = []
        for channel in candidates:
            try:
                request = normalize(unified, model, self.config.policy_for(channel), public_id)
            except ValueNotAllowed as error:
                strict_error = strict_error or error  # this channel takes exact values only
                continue
            payload = self.pm.hook.reelay_build_payload(request=request, model=model, channel=channel)
            if payload is None:
                log.error("no plugin builds payloads for vendor", vendor=channel.vendor, channel=channel.name)
                continue
            task = await self._record(task, token, model, channel, request)
            try:
                ref = await self._submit_hook(payload, request, channel)
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
            task.updated_at = self.clock()
            task.next_poll_at = task.updated_at + self.first_poll_delay(model, channel)
            await self.store.save_submission(task)
            self.wake()
            log.info("task accepted", task_id=task.id, model=model.name, channel=channel.name)
            self._notify(self.pm.hook.reelay_request_accepted, task=task, request=request)
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

    async def _submit_hook(self, payload: Any, request: GenerationRequest, channel: Channel):
        awaitable = self.pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=self.http)
        if awaitable is None:
            raise UpstreamError(FailureKind.CHANNEL, f"no plugin submits to vendor {channel.vendor!r}")
        return await awaitable

    async def _record(
        self, task: Task | None, token: Token, model: ModelSpec, channel: Channel, request: GenerationRequest
    ) -> Task:
        now = self.clock()
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
            await self.store.insert(task)
            return task
        task.channel = channel.name
        task.seconds, task.size, task.adjustments, task.request = (
            request.duration,
            request.size,
            request.adjustments,
            request,
        )
        task.next_poll_at = now + SUBMISSION_GRACE_SECONDS
        await self.store.save(task, with_request=True)
        return task

    async def _fail(self, task: Task, error: TaskError) -> None:
        previous = task.status
        task.status = TaskStatus.FAILED
        task.error = error
        task.completed_at = task.updated_at = self.clock()
        await self.store.save(task)
        if previous is not TaskStatus.FAILED:
            self._notify(self.pm.hook.reelay_task_changed, task=task, previous=previous)

    # ------------------------------------------------------------ reading

    async def get_task(self, token: Token, task_id: str) -> Task:
        """The caller's task; another token's task is indistinguishable from none."""
        task = await self.store.get(task_id)
        if task is None or not hmac.compare_digest(task.owner, token.name):
            raise NotFound(f"no task {task_id!r}", param="task_id", code="task_not_found")
        return self.with_estimate(task)

    def with_estimate(self, task: Task) -> Task:
        """The task with its progress estimate brought up to now (never lower)."""
        if task.status is TaskStatus.IN_PROGRESS:
            estimate = self.estimate_progress(task, self.clock())
            if estimate > task.progress:
                task.progress = estimate
        return task

    async def list_tasks(
        self, token: Token, *, limit: int = 20, after: str | None = None, descending: bool = True
    ) -> list[Task]:
        tasks = await self.store.list(token.name, limit=limit, after=after, descending=descending)
        return [self.with_estimate(task) for task in tasks]

    async def open_content(self, token: Token, task_id: str, variant: str = "video") -> LocalContent | ContentSource:
        task = await self.get_task(token, task_id)
        if task.status is not TaskStatus.COMPLETED or task.result is None:
            raise Conflict(
                f"task {task_id} is {task.status.value}; its content is available once it is completed",
                param="task_id",
            )
        copying = self._copies.get(task.id)
        if copying is not None and variant == "video":
            # Wait for the copy (now, busy or not) rather than fetch the same bytes twice.
            copy, hurry = copying
            hurry.set()
            await asyncio.wait({copy}, timeout=COPY_WAIT)  # never cancels nor raises the copy's error
            task = await self.get_task(token, task_id)
        result = task.result or VideoResult()
        if result.path is not None and variant == "video":
            if os.path.isfile(result.path):
                return LocalContent(result.path, result.mime_type)
            # Removed from the results directory by hand: the vendor may still have it.
            log.warning("kept result missing; asking the vendor", task_id=task.id)
        channel = self._channel_of(task)
        awaitable = self.pm.hook.reelay_open_content(task=task, channel=channel, http=self.http, variant=variant)
        if awaitable is None:
            raise InvalidRequest(f"variant {variant!r} is not available for this task", param="variant")
        try:
            return await awaitable
        except UpstreamError as error:
            raise UpstreamUnavailable(f"the vendor could not serve the content: {error.message}") from None

    def _channel_of(self, task: Task) -> Channel:
        channel = self.channels.get(task.channel)
        if channel is None:
            raise UpstreamUnavailable(f"channel {task.channel!r} of this task is no longer configured", status=503)
        return channel

    # ------------------------------------------------------------ control

    async def cancel(self, token: Token, task_id: str) -> Task:
        task = await self.get_task(token, task_id)
        if task.is_terminal:
            raise Conflict(f"task {task_id} already ended ({task.status.value})", param="task_id", code="task_ended")
        channel = self._channel_of(task)
        awaitable = self.pm.hook.reelay_cancel(task=task, channel=channel, http=self.http)
        if awaitable is None:
            raise InvalidRequest(
                f"task {task_id} cannot be cancelled: vendor {task.vendor} offers no cancel, so it keeps running",
                code="cancel_not_supported",
            )
        try:
            await awaitable
        except UpstreamError as error:
            raise UpstreamUnavailable(f"the vendor did not cancel the task: {error.message}") from None
        previous = task.status
        task.status = TaskStatus.CANCELLED
        task.completed_at = task.updated_at = self.clock()
        await self.store.save(task)
        self._notify(self.pm.hook.reelay_task_changed, task=task, previous=previous)
        return task

    async def delete(self, token: Token, task_id: str) -> None:
        """Forget a finished task (and its stored result); cancel it first if it runs."""
        task = await self.get_task(token, task_id)
        if not task.is_terminal:
            await self.cancel(token, task_id)
        if task.result is not None and task.result.path:
            await asyncio.to_thread(_unlink, task.result.path)
        await self.store.delete(task_id)

    async def remix(self, token: Token, task_id: str, prompt: str) -> Task:
        """A new task remixing a completed one, pinned to the original's channel."""
        original = await self.get_task(token, task_id)
        if original.status is not TaskStatus.COMPLETED:
            raise Conflict(f"task {task_id} is {original.status.value}; only completed videos can be remixed")
        channel = self._channel_of(original)
        now = self.clock()
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
        )
        awaitable = self.pm.hook.reelay_remix(task=original, prompt=prompt, channel=channel, http=self.http)
        if awaitable is None:
            raise InvalidRequest(f"{original.vendor} has no remix", code="remix_not_supported", param="task_id")
        await self.store.insert(task)
        try:
            task.vendor_ref = await awaitable
        except UpstreamError as error:
            await self._fail(task, TaskError(error.code, error.message))
            if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                raise InvalidRequest(error.message, code=error.code) from None
            raise UpstreamUnavailable(f"the remix could not be submitted: {error.message}") from None
        task.next_poll_at = now + self.first_poll_delay(self.registry.models[task.model], channel)
        await self.store.save_submission(task)
        self.wake()
        return task

    # ------------------------------------------------------------ polling

    def typical_seconds(self, model: ModelSpec | None, channel: Channel | None) -> float:
        if channel is not None and channel.typical_seconds:
            return channel.typical_seconds
        return model.typical_seconds if model is not None else 60.0

    def first_poll_delay(self, model: ModelSpec, channel: Channel) -> float:
        poller = self.config.poller
        return _clamp(self.typical_seconds(model, channel) * 0.25, poller.min_interval, poller.max_interval)

    def next_poll_delay(self, task: Task, now: float) -> float:
        """Every tenth of the typical time, clamped; slower for stragglers and after failures."""
        poller = self.config.poller
        typical = self.typical_seconds(self.registry.models.get(task.model), self.channels.get(task.channel))
        elapsed = now - task.created_at
        base = typical * (0.1 if elapsed < 2 * typical else 0.25)
        delay = _clamp(base, poller.min_interval, poller.max_interval)
        if task.poll_failures:
            delay = min(delay * 2 ** min(task.poll_failures, 6), poller.max_interval * 4)
        return delay

    def estimate_progress(self, task: Task, now: float) -> int:
        """Progress from elapsed time against the typical time: 90% at the typical
        time, then creeping towards 99%, never 100% before completion."""
        typical = self.typical_seconds(self.registry.models.get(task.model), self.channels.get(task.channel))
        elapsed = max(0.0, now - task.created_at)
        if elapsed <= typical:
            return int(90 * elapsed / typical)
        return min(99, 90 + int(9 * (1 - math.exp(-(elapsed - typical) / typical))))

    async def poll(self, task: Task, lease: str) -> Task:
        """Ask the vendor about one leased task and record what changed."""
        now = self.clock()
        previous = task.status
        channel = self.channels.get(task.channel)
        if channel is None:
            return await self._settle(task, lease, previous, StatusUpdate(TaskStatus.FAILED, error=_channel_gone(task)))
        try:
            awaitable = self.pm.hook.reelay_fetch_status(task=task, channel=channel, http=self.http)
            if awaitable is None:
                raise UpstreamError(FailureKind.CHANNEL, f"no plugin polls vendor {channel.vendor!r}")
            payload = await awaitable
            update = self.pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
            if update is None:
                raise UpstreamError(FailureKind.TRANSIENT, f"no plugin maps {channel.vendor!r} statuses")
        except UpstreamError as error:
            if error.kind is FailureKind.NOT_FOUND and task.vendor_ref is None:
                return await self._resubmit(task, channel, lease)
            if error.kind is FailureKind.NOT_FOUND:
                update = StatusUpdate(TaskStatus.FAILED, error=TaskError("upstream_not_found", error.message))
            else:
                task.poll_failures += 1
                log.warning("poll failed", task_id=task.id, channel=channel.name, code=error.code)
                return await self._settle(task, lease, previous, None, now)
        except Exception:  # a plugin bug must not stop the poller or lose the task
            log.exception("plugin raised while polling", task_id=task.id, channel=channel.name)
            task.poll_failures += 1
            return await self._settle(task, lease, previous, None, now)
        task.poll_failures = 0
        return await self._settle(task, lease, previous, update, now)

    async def _settle(
        self, task: Task, lease: str, previous: TaskStatus, update: StatusUpdate | None, now: float | None = None
    ) -> Task:
        now = self.clock() if now is None else now
        if update is not None:
            await self._apply(task, update, now)
        if not task.is_terminal and now - task.created_at > self.config.poller.timeout_seconds:
            limit = int(self.config.poller.timeout_seconds)
            task.status = TaskStatus.FAILED
            task.error = TaskError("timeout", f"the task did not finish within {limit} seconds")
            task.completed_at = now
        task.updated_at = now
        task.next_poll_at = now + self.next_poll_delay(task, now)
        if not await self.store.save(task, lease=lease):
            log.warning("lease lost before saving a poll", task_id=task.id)
            return task
        if task.status is not previous:
            log.info("task changed", task_id=task.id, status=task.status.value, previous=previous.value)
            self._notify(self.pm.hook.reelay_task_changed, task=task, previous=previous)
            self.keep_later(task)
        return task

    async def _apply(self, task: Task, update: StatusUpdate, now: float) -> None:
        if update.vendor_ref is not None and task.vendor_ref is None:
            task.vendor_ref = update.vendor_ref
        task.status = update.status
        if update.status is TaskStatus.COMPLETED:
            task.progress = 100
            task.completed_at = now
            task.result = await self._store_inline(task, update.result)
            task.error = None
        elif update.status.is_terminal:
            task.completed_at = now
            task.error = update.error or TaskError("generation_failed", "the vendor reported a failure")
        else:
            progress = update.progress if update.progress is not None else self.estimate_progress(task, now)
            task.progress = max(task.progress, min(99, int(progress)))

    async def _store_inline(self, task: Task, result: VideoResult | None) -> VideoResult:
        if result is None:
            return VideoResult()
        if result.data is None:
            return result
        # Inline bytes are decoded once and kept in the result storage.
        path = kept_path(self.results_dir, task.id, result.mime_type)
        await asyncio.to_thread(write_kept, path, result.data)
        return attrs.evolve(result, data=None, path=str(path))

    # ------------------------------------------------------------ kept results

    def keep_later(self, task: Task) -> bool:
        """Copy a completed task's video into the results directory, in the background.

        Vendors' links expire, so the copy starts as the task completes; it
        does not hold up the poll, and the task shows ``completed`` at once.
        A download asked for meanwhile waits for the copy (see
        :meth:`open_content`). A gateway stopped mid-copy copies again when
        it starts (:meth:`keep_missing`). Returns whether a copy started.
        """
        result = task.result
        wanted = self.config.store.keep_results and task.status is TaskStatus.COMPLETED
        if not wanted or result is None or result.path is not None or task.id in self._copies:
            return False
        hurry = asyncio.Event()
        copy = asyncio.create_task(self._keep(task, hurry), name=f"reelay-keep-{task.id}")
        self._copies[task.id] = (copy, hurry)
        copy.add_done_callback(lambda _: self._copies.pop(task.id, None))
        return True

    async def keep_missing(self, *, within: float = KEEP_MISSING_WITHIN) -> int:
        """Start copies for tasks completed in the last ``within`` seconds that have
        none (a gateway stopped mid-copy); returns how many started."""
        if not self.config.store.keep_results:
            return 0
        tasks = await self.store.completed_since(self.clock() - within, limit=KEEP_MISSING_LIMIT)
        started = sum(self.keep_later(task) for task in tasks)
        if started:
            log.info("copying results a previous run did not keep", count=started)
        return started

    async def drain_copies(self) -> None:
        """Wait until no copy is in flight (for tests and orderly shutdowns)."""
        while self._copies:
            await asyncio.gather(*(copy for copy, _ in self._copies.values()), return_exceptions=True)

    async def _keep(self, task: Task, hurry: asyncio.Event) -> None:
        async with self._copy_slots:
            await _until_not_busy(COPY_DEFER, hurry)
            path = await self._copy_result(task)
        if path is None or task.result is None:
            return
        # A finished task changes no more, except by being deleted.
        kept = attrs.evolve(task, result=attrs.evolve(task.result, path=path))
        try:
            recorded = await self.store.save(kept)
        except Exception:  # the store is down: the next start copies it again
            log.exception("kept result not recorded", task_id=task.id)
            return
        if not recorded:  # deleted while we copied
            await asyncio.to_thread(_unlink, path)

    async def _copy_result(self, task: Task) -> str | None:
        """The kept file's path, or None (logged) when the video stays with the vendor."""
        channel = self.channels.get(task.channel)
        if channel is None:
            return None
        store = self.config.store
        try:
            awaitable = self.pm.hook.reelay_open_content(task=task, channel=channel, http=self.http, variant="video")
            if awaitable is None:
                return None
            source = await awaitable
            kept = await keep_copy(
                self.http,
                source,
                self.results_dir,
                task.id,
                max_bytes=int(store.max_result_mb * 1024 * 1024),
                timeout=COPY_TIMEOUT,
            )
        except (NotKept, UpstreamError, ReelayError) as error:
            reason = getattr(error, "message", str(error))
            log.warning("result not kept; it will be relayed from the vendor", task_id=task.id, reason=reason)
            return None
        except Exception:  # a plugin bug must not stop the others
            log.exception("result not kept: the plugin raised", task_id=task.id)
            return None
        log.info("result kept", task_id=task.id, bytes=kept.size)
        return str(kept.path)

    async def _resubmit(self, task: Task, channel: Channel, lease: str) -> Task:
        """Submit again a task whose submission was interrupted before the vendor's id was recorded."""
        model = self.registry.models.get(task.model)
        previous = task.status
        if task.request is None:  # claimed tasks come without it: it may hold images
            stored = await self.store.get(task.id, with_request=True)
            task.request = stored.request if stored is not None else None
        if task.request is None or model is None:
            update = StatusUpdate(TaskStatus.FAILED, error=TaskError("submission_lost", "the submission was lost"))
            return await self._settle(task, lease, previous, update)
        payload = self.pm.hook.reelay_build_payload(request=task.request, model=model, channel=channel)
        try:
            task.vendor_ref = await self._submit_hook(payload, task.request, channel)
        except UpstreamError as error:
            if error.retryable:
                task.poll_failures += 1
                return await self._settle(task, lease, previous, None)
            update = StatusUpdate(TaskStatus.FAILED, error=TaskError(error.code, error.message))
            return await self._settle(task, lease, previous, update)
        log.info("interrupted submission sent again", task_id=task.id, channel=channel.name)
        return await self._settle(task, lease, previous, None)

    def wake(self) -> None:
        """Tell the poller there is work sooner than it planned."""
        self._new_work.set()

    async def wait_for_work(self, timeout: float) -> None:
        """Sleep until new work arrives or ``timeout`` passes (for the poller)."""
        # Not asyncio.wait_for: on 3.11 it drops a cancellation that arrives as
        # the event is set, and the poller would not stop (python/cpython#86296).
        try:
            async with asyncio.timeout(timeout):
                await self._new_work.wait()
        except TimeoutError:
            pass
        self._new_work.clear()

    def _notify(self, hook: Any, **kwargs: Any) -> None:
        try:
            hook(**kwargs)
        except Exception:  # an observer's bug must not fail the task
            log.exception("observer hook raised", hook=hook.name)


async def _until_not_busy(at_most: float, hurry: asyncio.Event) -> None:
    """Wait (``at_most`` seconds, or until ``hurry`` is set) for the event loop
    to have time to spare.

    Copies are background work: while the loop is saturated, the polls and
    requests callers wait on come first (a vendor's link lasts an hour or
    more). A loop with time to spare wakes a short sleep on time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + at_most
    while not hurry.is_set() and loop.time() < deadline:
        asked = loop.time()
        await asyncio.sleep(0.01)
        if loop.time() - asked - 0.01 < BUSY_LAG:
            return


def _channel_gone(task: Task) -> TaskError:
    return TaskError("channel_removed", f"channel {task.channel!r} is no longer configured")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
