"""Vendor-neutral helpers for vendor emulators.

An emulator is a real :class:`aiohttp.web.Application` that speaks one
vendor's wire protocol. Plugins build theirs from these pieces: a job clock
that advances statuses over a configurable time, failure scenarios chosen by
markers in the prompt, small real MP4s matching a job's duration and
orientation, a sender of the callbacks a vendor posts, and a loopback server
runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import AsyncIterator, Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

import aiohttp
import attrs
from aiohttp import web
from attrs import frozen


@cache
def sample_asset(name: str) -> bytes:
    """Bytes of a file shipped in ``reelay/assets`` (``sample.mp4``, ``sample.png``...)."""
    return resources.files("reelay").joinpath("assets", name).read_bytes()


def sample_mp4() -> bytes:
    """A small, real, playable MP4 (2 s, 160x90)."""
    return sample_asset("sample.mp4")


#: The durations (seconds) of the clips in ``reelay/assets``, one set per orientation.
#: They are ``clip-<orientation>-<seconds>s.mp4``: 1 frame a second, H.264, made with
#: ``ffmpeg -f lavfi -i testsrc2=size=160x90:rate=1:duration=5 -c:v libx264 -preset veryslow
#: -crf 38 -pix_fmt yuv420p -bf 0 -movflags +faststart -an -map_metadata -1 clip-landscape-5s.mp4``
#: (160x90 landscape, 90x160 portrait, 96x96 square).
CLIP_SECONDS: tuple[int, ...] = (4, 5, 6, 7, 8, 10, 12)


def orientation(width: float, height: float) -> str:
    """``landscape``, ``portrait`` or ``square`` for a frame of ``width`` by ``height``."""
    if width > height:
        return "landscape"
    if height > width:
        return "portrait"
    return "square"


def size_dimensions(size: str | None) -> tuple[int, int]:
    """Width and height of a size written ``1280x720`` or ``16:9``; 16:9 when absent or unreadable."""
    if size:
        for separator in ("x", ":"):
            width, found, height = size.lower().partition(separator)
            width, height = width.strip(), height.strip()
            if found and width.isascii() and width.isdigit() and height.isascii() and height.isdigit():
                return int(width), int(height)
    return 16, 9


def sample_clip(seconds: float | None, width: float = 16, height: float = 9) -> bytes:
    """A small, real, playable MP4 whose duration and orientation match a job.

    The duration is the nearest of :data:`CLIP_SECONDS` (the longer one on a
    tie; 5 s when ``seconds`` is None); the orientation follows ``width`` and
    ``height`` (pixels or a ratio). Emulators serve it as a finished job's
    video, so a demo's result looks like what was asked.
    """
    wanted = 5.0 if seconds is None else float(seconds)
    nearest = min(CLIP_SECONDS, key=lambda clip: (abs(clip - wanted), -clip))
    return sample_asset(f"clip-{orientation(width, height)}-{nearest}s.mp4")


class Scenario(enum.StrEnum):
    """How an emulated job ends, chosen by a marker in the prompt.

    Markers let end-to-end tests and the contract suite drive every path
    through a real emulator without a back channel.
    """

    SUCCEED = "succeed"
    FAIL = "fail"  # the generation fails after starting
    REJECT = "reject"  # refused at submission as a content-policy violation
    BLOCK = "block"  # accepted, then filtered as a content-policy violation
    INVALID = "invalid"  # refused at submission as an invalid request

    @property
    def marker(self) -> str:
        return f"[emulate:{self.value}]"


def scenario_for(prompt: str | None) -> Scenario:
    """The scenario a prompt asks for; :attr:`Scenario.SUCCEED` without a marker."""
    if prompt and "[emulate:" in prompt:
        for scenario in Scenario:
            if scenario.marker in prompt:
                return scenario
    return Scenario.SUCCEED


class JobPhase(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@attrs.define
class EmulatedJob:
    """A job in an emulator, whose phase follows the clock.

    A job is queued for the first tenth of its time, running until
    ``duration`` has passed, then done (succeeded or failed per ``scenario``).
    An emulator that acts on its own at some point of a job (a vendor calling
    back) waits with :meth:`wait_until`, which follows :meth:`retime`.
    """

    id: str
    duration: float
    scenario: Scenario = Scenario.SUCCEED
    created: float = attrs.field(factory=time.time)
    data: dict[str, Any] = attrs.field(factory=dict)
    cancelled: bool = False
    #: Set, and replaced, when the job is retimed: wakes :meth:`wait_until`.
    _retimed: asyncio.Event | None = attrs.field(default=None, init=False, repr=False, eq=False)

    def retime(self, created: float, duration: float) -> None:
        """Move the job's start (Unix seconds) and length (seconds); whoever waits in :meth:`wait_until` follows."""
        self.created, self.duration = created, duration
        if self._retimed is not None:
            self._retimed.set()
            self._retimed = None

    async def wait_until(self, fraction: float) -> None:
        """Sleep until ``fraction`` of the job's time has passed (0.1: it runs; 1: it is done),
        following :meth:`retime` made meanwhile."""
        # A millisecond late, so that phase() read then agrees the moment has come.
        while (delay := self.created + self.duration * fraction + 0.001 - time.time()) > 0:
            if self._retimed is None:
                self._retimed = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._retimed.wait(), delay)

    def elapsed(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.created

    def phase(self, now: float | None = None) -> JobPhase:
        elapsed = self.elapsed(now)
        if elapsed >= self.duration:
            return JobPhase.DONE
        if elapsed >= self.duration * 0.1:
            return JobPhase.RUNNING
        return JobPhase.QUEUED

    def progress(self, now: float | None = None) -> int:
        if self.duration <= 0:
            return 100
        return max(0, min(100, int(100 * self.elapsed(now) / self.duration)))

    @property
    def succeeds(self) -> bool:
        return self.scenario is Scenario.SUCCEED


@frozen
class EmulatorSettings:
    """How an emulator behaves.

    :param credentials: the credentials it accepts (and a demo channel sends).
    :param generation_seconds: how long each job takes to finish.
    :param video: the bytes served as every result when given; by default
        :meth:`video_for` answers each job a :func:`sample_clip` matching its
        duration and size (and ``video`` is the 2-second :func:`sample_mp4`,
        for emulators that serve it directly).
    :param fail_submissions: the first N submissions answer a transient
        server error, to exercise fail-over.
    :param options: vendor-specific switches (for example which API form).
    """

    credentials: Mapping[str, str] = attrs.field(factory=dict)
    generation_seconds: float = 2.0
    video: bytes = attrs.field(factory=sample_mp4, repr=False)
    fail_submissions: int = 0
    options: Mapping[str, Any] = attrs.field(factory=dict)

    def video_for(self, seconds: float | None, size: str | None) -> bytes:
        """The video of a finished job that asked for ``seconds`` and ``size`` (``1280x720`` or ``16:9``)."""
        if self.video is not sample_mp4():  # given: the same bytes for every job (sample_asset is cached)
            return self.video
        return sample_clip(seconds, *size_dimensions(size))


@frozen
class EmulatorSpec:
    """An emulator a plugin registers through ``reelay_register_emulators``.

    :param vendor: the vendor it emulates.
    :param create_app: builds the application from :class:`EmulatorSettings`.
    :param credentials: credentials for a demo or test channel (the emulator
        accepts exactly these).
    :param channel_options: extra channel options a channel pointed at it
        needs (for example ``{"api": "vertex"}``).
    :param name: tells several emulators of one vendor apart.
    :param models: the models a channel on this emulator should serve
        (default: every model of the vendor).
    """

    vendor: str
    create_app: Callable[[EmulatorSettings], web.Application]
    credentials: Mapping[str, str] = attrs.field(factory=dict)
    channel_options: Mapping[str, Any] = attrs.field(factory=dict)
    name: str = ""
    models: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or self.vendor

    def settings(self, **overrides: Any) -> EmulatorSettings:
        values: dict[str, Any] = {"credentials": dict(self.credentials), "options": dict(self.channel_options)}
        values.update(overrides)
        return EmulatorSettings(**values)


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on loopback for the duration of the block; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        sockets = site._server.sockets if site._server is not None else ()  # aiohttp exposes no public accessor
        bound_port = sockets[0].getsockname()[1] if sockets else port
        yield f"http://{host}:{bound_port}"
    finally:
        await runner.cleanup()


def json_error(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON error response, for emulators answering in their vendor's error shape."""
    return web.json_response(dict(body), status=status, headers=dict(headers or {}))


class EmulatorRefusal(Exception):
    """An error answer in the emulated vendor's shape, raised anywhere in a handler.

    :func:`refusals` (a middleware) turns it into the JSON response. Plugins
    subclass it to build their vendor's body (``{"error": ...}``,
    ``{"detail": ...}``...) from a status and a message.

    :param status: the HTTP status (some vendors answer errors with 200).
    :param body: the JSON body.
    :param headers: extra response headers (a request id...).
    """

    def __init__(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None):
        super().__init__(f"{status}: {dict(body)}")
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return json_error(self.status, self.body, self.headers)


@web.middleware
async def refusals(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    """The middleware answering an :class:`EmulatorRefusal` with its JSON response.

    ``web.Application(middlewares=[refusals, ...])``: put it first, so that
    refusals raised by later middlewares (an authentication check) are answered too.
    """
    try:
        return await handler(request)
    except EmulatorRefusal as refusal:
        return refusal.response()


def bearer_auth(
    key: Callable[[web.Request], str],
    refuse: Callable[[str], Exception],
    *,
    open_paths: tuple[str, ...] = (),
) -> Any:
    """A middleware letting through only requests with ``Authorization: Bearer <key>``.

    ``web.Application(middlewares=[refusals, bearer_auth(...)])``.

    :param key: the key the emulator accepts, read from the application (its settings' credentials).
    :param refuse: builds the vendor's refusal from the ``Authorization`` header sent (``""`` when
        none), so that a missing key and a wrong one can be answered apart.
    :param open_paths: path prefixes served without a key (a file host: ``("/cdn/",)``).
    """

    @web.middleware
    async def authorized(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        if not (open_paths and request.path.startswith(open_paths)):
            header = request.headers.get("Authorization", "")
            if header != f"Bearer {key(request)}":
                raise refuse(header)
        return await handler(request)

    return authorized


async def json_object(request: web.Request, *, not_json: Exception, not_object: Exception) -> dict[str, Any]:
    """The request's JSON body, which must be an object; else raise ``not_json`` or ``not_object``."""
    try:
        body = await request.json()
    except ValueError:
        raise not_json from None
    if not isinstance(body, dict):
        raise not_object
    return body


def is_http_url(value: Any) -> bool:
    """Whether ``value`` is text naming an http(s) URL, as vendors check image and callback URLs."""
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


@attrs.define
class EmulatorState:
    """What an emulator keeps between requests: its settings, its jobs by id, its submissions.

    Emulators subclass it (``@attrs.define``) to add what their vendor needs,
    and keep it on the application under a ``web.AppKey``.
    """

    settings: EmulatorSettings
    jobs: dict[str, EmulatedJob] = attrs.field(factory=dict)
    submissions: int = 0

    def submission_fails(self) -> bool:
        """Count one submission; True for the first ``settings.fail_submissions`` (answer a transient error)."""
        self.submissions += 1
        return self.submissions <= self.settings.fail_submissions

    def finished_job(self, job_id: str) -> EmulatedJob:
        """The job whose video may be served: it exists, was not cancelled, and is done and succeeded.

        :raises web.HTTPNotFound: for any other id, as a vendor's file host answers.
        """
        job = self.jobs.get(job_id)
        if job is None or job.cancelled or job.phase() is not JobPhase.DONE or not job.succeeds:
            raise web.HTTPNotFound()
        return job


# ---------------------------------------------------------------- callbacks


class SentCallback(NamedTuple):
    """One post of a callback by an emulator."""

    job_id: str
    status: str  # the vendor's status the body carried
    at: float  # when it was posted (``time.time()``)
    answer: int | None = None  # the HTTP status answered; None: no answer (not yet, unreachable, timed out)


@attrs.define
class CallbackSender:
    """Posts a vendor's callbacks about emulated jobs to the URL each request gave.

    An emulator keeps one on its state, calls :meth:`start` for each job
    created with a callback URL, and stops it when the application is cleaned
    up (``app.on_cleanup.append(sender.stop)``). What differs between vendors
    is settings: when posts are made, which are retried and how, and the body
    (the emulator's own view of the job at that moment, as its status query
    answers it).

    :param status_key: the body's field holding the vendor's status (recorded in :attr:`sent`).
    :param moments: when to post, as fractions of a job's duration: 0 is its
        creation, 0.1 when an :class:`EmulatedJob` starts running, 1 when it ends.
    :param retries: posts made again after one not answered 200 (or not
        answered within ``timeout``).
    :param retry_delay: seconds between a post and its retry.
    :param timeout: seconds a post waits for its answer.
    :param retried: the statuses whose callbacks are retried; None: all.
    :ivar sent: every post made, retries included, in order.
    :ivar urls: the callback URL of each job started, by job id.
    """

    status_key: str
    moments: tuple[float, ...] = (0.1, 1.0)
    retries: int = 0
    retry_delay: float = 0.1
    timeout: float = 5.0
    retried: frozenset[str] | None = None
    sent: list[SentCallback] = attrs.field(factory=list)
    urls: dict[str, str] = attrs.field(factory=dict)
    _running: set[asyncio.Task[None]] = attrs.field(factory=set, repr=False)

    def start(self, job: EmulatedJob, url: str, snapshot: Callable[[], Mapping[str, Any] | None]) -> None:
        """Post ``snapshot()`` to ``url`` at each of :attr:`moments` of ``job``; a None snapshot posts nothing."""
        self.urls[job.id] = url
        sender = asyncio.ensure_future(self._send(job, url, snapshot))
        self._running.add(sender)
        sender.add_done_callback(self._running.discard)

    async def stop(self, _app: web.Application | None = None) -> None:
        """Cancel the posts not made yet (an ``on_cleanup`` handler)."""
        running = list(self._running)
        for sender in running:
            sender.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def _send(self, job: EmulatedJob, url: str, snapshot: Callable[[], Mapping[str, Any] | None]) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            for moment in self.moments:
                await job.wait_until(moment)  # follows the job when a test or the bench retimes it
                body = snapshot()
                if body is not None:
                    await self._post(http, job.id, url, body)

    async def _post(self, http: aiohttp.ClientSession, job_id: str, url: str, body: Mapping[str, Any]) -> None:
        status = str(body.get(self.status_key, ""))
        attempts = 1 + (self.retries if self.retried is None or status in self.retried else 0)
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_delay)
            # Recorded before posting: a test reading it once the receiver has acted must find it.
            index = len(self.sent)
            self.sent.append(SentCallback(job_id, status, time.time()))
            try:
                async with http.post(url, json=dict(body)) as response:
                    await response.read()
                    self.sent[index] = self.sent[index]._replace(answer=response.status)
            except (aiohttp.ClientError, TimeoutError):
                continue  # no answer: retried like a refusal
            if response.status == 200:
                return
