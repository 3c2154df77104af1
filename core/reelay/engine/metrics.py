"""Metrics in the Prometheus format, each gateway with a registry of its own.

:class:`Metrics` is a plugin instance: the dispatcher registers it with its
plugin manager while it runs, and it hears the engine through the observer
hooks (``reelay_upstream_called``, ``reelay_task_changed``,
``reelay_unknown_status``). The HTTP edge reports requests and content bytes
through :meth:`Metrics.http_request` and :meth:`Metrics.content_served`; store
calls are timed by :class:`MeteredStore`. Gauges (tasks by status, channel
health) are read at scrape time, in :meth:`Metrics.render`.

Labels never carry a task id, a token, a prompt or a vendor's free text.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..hookspecs import hookimpl
from ..models import Channel, Task, TaskStatus
from .breakers import Breakers, BreakerState
from .latency import LatencyFamily, Recorder

_FAST = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_UPSTREAM = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_GENERATION = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class Metrics:
    """The gateway's metrics, in ``registry`` (never the process-wide default one)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry = registry or CollectorRegistry(auto_describe=True)
        # The two families every request feeds are lock-free series (see .latency).
        self.requests = LatencyFamily(
            "reelay_http_request_duration_seconds",
            "HTTP request latency",
            ("route",),
            _FAST,
            counter=("reelay_http_requests", "HTTP requests by route and status", ("status",)),
        )
        registry.register(self.requests)
        self.submissions = Counter(
            "reelay_submissions",
            "Submissions to a channel by model and outcome (ok or the failure kind)",
            ["model", "channel", "outcome"],
            registry=registry,
        )
        self.upstream_calls = Counter(
            "reelay_upstream_calls", "Vendor calls", ["channel", "operation", "outcome"], registry=registry
        )
        self.upstream_seconds = Histogram(
            "reelay_upstream_call_duration_seconds",
            "Vendor call latency",
            ["channel", "operation"],
            buckets=_UPSTREAM,
            registry=registry,
        )
        self.polls = Counter("reelay_polls", "Status polls by channel", ["channel"], registry=registry)
        self.poll_failures = Counter(
            "reelay_poll_failures", "Failed status polls by channel", ["channel", "outcome"], registry=registry
        )
        self.tasks = Gauge("reelay_tasks", "Tasks in the store by status", ["status"], registry=registry)
        self.finished = Counter(
            "reelay_tasks_finished", "Tasks that ended, by model and status", ["model", "status"], registry=registry
        )
        self.completion_seconds = Histogram(
            "reelay_task_completion_seconds",
            "Time from acceptance to completion",
            ["model"],
            buckets=_GENERATION,
            registry=registry,
        )
        self.content_bytes = Counter(
            "reelay_content_bytes", "Video bytes served, from the kept copy or relayed", ["source"], registry=registry
        )
        self.store_seconds = LatencyFamily(
            "reelay_store_operation_duration_seconds", "Store operation latency", ("operation",), _FAST
        )
        registry.register(self.store_seconds)
        self.channel_state = Gauge(
            "reelay_channel_state", "1 for each channel's breaker state", ["channel", "state"], registry=registry
        )
        self.channel_failures = Gauge(
            "reelay_channel_consecutive_failures", "Transient failures in a row", ["channel"], registry=registry
        )
        self.unknown_statuses = Counter(
            "reelay_unknown_vendor_statuses",
            "Vendor statuses a plugin did not know",
            ["vendor", "channel"],
            registry=registry,
        )
        self.rate_limited = Counter("reelay_rate_limited", "Requests refused by a token's rpm", registry=registry)
        # Recorders and labelled children of the hot paths, looked up once.
        self._http: dict[tuple[str, int], Recorder] = {}
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}

    # ------------------------------------------------------------ the HTTP edge

    def http_request(self, route: str, status: int, seconds: float) -> None:
        """One answered request (``route`` is the route's name, never the path)."""
        record = self._http.get((route, status))
        if record is None:
            record = self._http[(route, status)] = self.requests.recorder(route, str(status))
        record(seconds)

    def content_served(self, source: str, size: int) -> None:
        """``size`` video bytes went out, from the ``kept`` copy or ``relayed`` from the vendor."""
        self.content_bytes.labels(source).inc(size)

    def store_recorder(self, operation: str) -> Recorder:
        """The function a store operation's latency (seconds) is reported to."""
        return self.store_seconds.recorder(operation)

    def _child(self, family: Any, *labels: str) -> Any:
        """``family.labels(*labels)``, looked up once (the lookup validates and locks each time)."""
        child = self._children.get((family, labels))
        if child is None:
            child = self._children[(family, labels)] = family.labels(*labels)
        return child

    # ------------------------------------------------------------ observer hooks

    @hookimpl
    def reelay_upstream_called(
        self, channel: Channel, operation: str, seconds: float, outcome: str, model: str | None
    ) -> None:
        child = self._child
        child(self.upstream_calls, channel.name, operation, outcome).inc()
        child(self.upstream_seconds, channel.name, operation).observe(seconds)
        if operation == "submit":
            child(self.submissions, model or "", channel.name, outcome).inc()
        elif operation == "poll":
            child(self.polls, channel.name).inc()
            if outcome != "ok":
                child(self.poll_failures, channel.name, outcome).inc()

    @hookimpl
    def reelay_task_changed(self, task: Task, previous: TaskStatus) -> None:
        if not task.is_terminal:
            return
        self._child(self.finished, task.model, task.status.value).inc()
        if task.status is TaskStatus.COMPLETED and task.completed_at is not None:
            self._child(self.completion_seconds, task.model).observe(max(0.0, task.completed_at - task.created_at))

    @hookimpl
    def reelay_unknown_status(self, channel: Channel, status: str) -> None:
        self.unknown_statuses.labels(channel.vendor, channel.name).inc()

    # ------------------------------------------------------------ scraping

    async def render(
        self, count_tasks: Callable[[], Awaitable[dict[str, int]]], breakers: Breakers, channels: Iterable[str]
    ) -> bytes:
        """The text exposition, gauges brought up to now: tasks counted in the store, breakers read."""
        counts = await count_tasks()
        for status in TaskStatus:
            self.tasks.labels(status.value).set(counts.get(status.value, 0))
        for name, (state, breaker) in breakers.snapshot(channels).items():
            for each in BreakerState:
                self.channel_state.labels(name, each.value).set(1 if each is state else 0)
            self.channel_failures.labels(name).set(breaker.failures)
        return generate_latest(self.registry)


class MeteredStore:
    """A store whose task operations are timed into ``metrics``; everything else passes through."""

    _TIMED = (
        "insert",
        "save",
        "save_submission",
        "get",
        "list",
        "delete",
        "claim_due",
        "release_leases",
        "next_due",
        "completed_since",
        "count_by_status",
        "count_active_by_channel",
        "list_all",
    )

    def __init__(self, store: Any, metrics: Metrics):
        self.inner = store
        for name in self._TIMED:
            method = getattr(store, name, None)
            if method is not None:
                setattr(self, name, _timed(method, metrics.store_recorder(name)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _timed(method: Callable[..., Awaitable[Any]], observe: Callable[[float], None]) -> Callable[..., Awaitable[Any]]:
    clock = time.perf_counter

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return await method(*args, **kwargs)
        finally:
            observe(clock() - started)

    return timed
