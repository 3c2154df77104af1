"""Vendor calls, timed: each one's outcome feeds the channel's breaker and the observers."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import TypeVar

from ..errors import UpstreamError
from ..models import Channel
from .breakers import Breakers
from .events import Events

T = TypeVar("T")

#: Operations whose outcomes tell a channel's health (the breaker hears only these).
_HEALTH = frozenset({"submit", "poll"})


def outcome_of(error: BaseException | None) -> str:
    """``"ok"``, the :class:`FailureKind` value of an :class:`UpstreamError`, or ``"error"`` (a plugin bug)."""
    if error is None:
        return "ok"
    if isinstance(error, UpstreamError):
        return error.kind.value
    return "error"


class UpstreamCalls:
    """Awaits vendor calls and reports each: to the breakers (submissions and polls)
    and to the ``reelay_upstream_called`` observers.

    :param breakers: the channels' breakers.
    :param events: the observer hooks.
    """

    def __init__(self, breakers: Breakers, events: Events):
        self.breakers = breakers
        self.events = events

    async def timed(self, channel: Channel, operation: str, awaitable: Awaitable[T], model: str | None = None) -> T:
        """``await awaitable``, reporting how long it took and how it ended; raises as it does."""
        started = time.perf_counter()
        try:
            result = await awaitable
        except Exception as error:
            self.report(channel, operation, time.perf_counter() - started, error, model)
            raise
        self.report(channel, operation, time.perf_counter() - started, None, model)
        return result

    def report(
        self, channel: Channel, operation: str, seconds: float, error: BaseException | None, model: str | None = None
    ) -> None:
        """Report a call made elsewhere (``error`` None when it succeeded)."""
        outcome = outcome_of(error)
        if operation in _HEALTH:
            self.breakers.record(channel.breaker_name, outcome, getattr(error, "message", None))
        self.events.upstream_called(channel, operation, seconds, outcome, model)
