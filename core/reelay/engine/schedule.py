"""When to poll a task next, and how far along it probably is, from its model's and channel's typical time."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..config import PollerConfig
from ..models import Channel, ModelSpec, Task, TaskStatus
from ..plugins import Registry

#: The typical generation time (seconds) when neither model nor channel says.
DEFAULT_TYPICAL_SECONDS = 60.0


class Schedule:
    """The poll schedule and progress estimates; pure arithmetic, no I/O.

    :param poller: the ``[poller]`` settings (intervals in seconds).
    :param registry: the models, for their typical time.
    :param channels: the channels by name, for theirs (shared with the other parts).
    :param clock: the time now, as Unix seconds.
    """

    def __init__(
        self,
        poller: PollerConfig,
        registry: Registry,
        channels: dict[str, Channel],
        clock: Callable[[], float],
    ):
        self.poller = poller
        self.registry = registry
        self.channels = channels
        self.clock = clock
        #: Vendor -> how much slower its tasks are polled (they call back; polls are a backstop).
        self.backstop: dict[str, float] = {}

    def typical_seconds(self, model: ModelSpec | None, channel: Channel | None) -> float:
        """How long a generation usually takes (seconds): the channel's figure, else the model's."""
        if channel is not None and channel.typical_seconds:
            return channel.typical_seconds
        return model.typical_seconds if model is not None else DEFAULT_TYPICAL_SECONDS

    def first_poll_delay(self, model: ModelSpec, channel: Channel) -> float:
        """Seconds from submission to the first poll: a quarter of the typical time, clamped."""
        poller = self.poller
        return _clamp(self.typical_seconds(model, channel) * 0.25, poller.min_interval, poller.max_interval)

    def next_poll_delay(self, task: Task, now: float) -> float:
        """Every tenth of the typical time, clamped; slower for stragglers and after failures."""
        poller = self.poller
        typical = self.typical_seconds(self.registry.spec_of(task), self.channels.get(task.channel))
        elapsed = now - task.created_at
        base = typical * (0.1 if elapsed < 2 * typical else 0.25)
        delay = _clamp(base, poller.min_interval, poller.max_interval) * self.backstop.get(task.vendor, 1.0)
        if task.poll_failures:
            delay = min(delay * 2 ** min(task.poll_failures, 6), poller.max_interval * 4)
        return delay

    def estimate_progress(self, task: Task, now: float) -> int:
        """Progress from elapsed time against the typical time: 90% at the typical
        time, then creeping towards 99%, never 100% before completion."""
        typical = self.typical_seconds(self.registry.spec_of(task), self.channels.get(task.channel))
        elapsed = max(0.0, now - task.created_at)
        if elapsed <= typical:
            return int(90 * elapsed / typical)
        return min(99, 90 + int(9 * (1 - math.exp(-(elapsed - typical) / typical))))

    def with_estimate(self, task: Task) -> Task:
        """The task with its progress estimate brought up to now (never lower)."""
        if task.status is TaskStatus.IN_PROGRESS:
            estimate = self.estimate_progress(task, self.clock())
            if estimate > task.progress:
                task.progress = estimate
        return task


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))
