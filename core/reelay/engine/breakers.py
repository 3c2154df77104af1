"""Channel health: a circuit breaker per channel, kept in this process.

Fed with the outcome of every submission and poll (:meth:`Breakers.record`),
asked by the router which channels to try (:meth:`Breakers.admit`):

- **closed**: the channel takes requests. ``[breaker] failures`` transient
  failures in a row (connection errors, timeouts, 5xx, 429) open it.
- **open**: skipped for ``cooldown_seconds``; the cool-down doubles each time
  a probe fails, up to ``max_cooldown_seconds``.
- **half-open**: the cool-down is over: one request probes the channel. Its
  success closes the breaker, its failure opens it again.
- **disabled**: the vendor refused the channel's credentials or account
  (``FailureKind.CHANNEL``), or an operator disabled it. Out until an operator
  enables it or the configuration is reloaded.

Time comes from the engine's clock, so tests need no sleeps.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import TypeVar

import attrs
import structlog

from ..config import BreakerConfig
from ..errors import FailureKind

log = structlog.get_logger("reelay")

T = TypeVar("T")


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    DISABLED = "disabled"


#: The outcomes a call can have: "ok", a :class:`FailureKind` value, or "error" (a plugin bug).
_TRANSIENT = frozenset({FailureKind.TRANSIENT.value, FailureKind.RATE_LIMITED.value, "error"})


@attrs.define
class Breaker:
    """One channel's health."""

    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # transient failures in a row
    cooldown: float = 0.0  # the current cool-down (seconds)
    until: float = 0.0  # when an open breaker lets a probe through
    probe_at: float | None = None  # when the probe in flight was let through
    reason: str | None = None  # why it is disabled
    manual: bool = False  # disabled by an operator (a reload leaves it so)


class Breakers:
    """The breakers of every channel, by channel name.

    :param config: the ``[breaker]`` settings.
    :param clock: the time now, in seconds.
    """

    def __init__(self, config: BreakerConfig, clock: Callable[[], float]):
        self.config = config
        self.clock = clock
        self._breakers: dict[str, Breaker] = {}

    def of(self, channel: str) -> Breaker:
        breaker = self._breakers.get(channel)
        if breaker is None:
            breaker = self._breakers[channel] = Breaker()
        return breaker

    def state(self, channel: str) -> BreakerState:
        """The channel's state now (an open breaker past its cool-down reads half-open)."""
        breaker = self._breakers.get(channel)
        if breaker is None:
            return BreakerState.CLOSED
        if breaker.state is BreakerState.OPEN and self.clock() >= breaker.until:
            return BreakerState.HALF_OPEN
        return breaker.state

    def admit(self, channels: Iterable[T], name: Callable[[T], str]) -> list[T]:
        """The channels that may be tried now, in the order given.

        Closed ones always; an open one whose cool-down is over is let
        through once, as the probe (no other request goes there until the
        probe's outcome is known, or a cool-down passes without one).
        """
        breakers = self._breakers
        if not breakers:  # every channel healthy: the common case costs nothing
            return list(channels)
        now = self.clock()
        admitted = []
        for channel in channels:
            breaker = breakers.get(name(channel))
            if breaker is None or breaker.state is BreakerState.CLOSED:
                admitted.append(channel)
            elif breaker.state is not BreakerState.DISABLED and now >= breaker.until:
                probing = breaker.probe_at is not None and now - breaker.probe_at < breaker.cooldown
                if not probing:
                    breaker.state = BreakerState.HALF_OPEN
                    breaker.probe_at = now
                    admitted.append(channel)
        return admitted

    def record(self, channel: str, outcome: str, reason: str | None = None) -> None:
        """What a call to ``channel`` came to: ``"ok"``, a :class:`FailureKind` value, or ``"error"``.

        The caller's own faults (invalid input, content policy, an unknown
        task) say the channel answered: they count as health.
        """
        if outcome == FailureKind.CHANNEL.value:
            self.disable(channel, reason or "the vendor refused the channel's credentials or account")
            return
        breaker = self._breakers.get(channel)
        if outcome not in _TRANSIENT:
            if breaker is not None and breaker.state is not BreakerState.DISABLED:
                if breaker.state is BreakerState.HALF_OPEN:
                    log.info("channel healthy again", channel=channel)
                if breaker.state is not BreakerState.OPEN:  # a late answer does not end a cool-down
                    del self._breakers[channel]
            return
        breaker = breaker or self.of(channel)
        if breaker.state is BreakerState.CLOSED:
            breaker.failures += 1
            if breaker.failures >= self.config.failures:
                self._open(channel, breaker, self.config.cooldown_seconds)
        elif breaker.state is BreakerState.HALF_OPEN:
            self._open(channel, breaker, min(breaker.cooldown * 2, self.config.max_cooldown_seconds))

    def _open(self, channel: str, breaker: Breaker, cooldown: float) -> None:
        breaker.state = BreakerState.OPEN
        breaker.cooldown = cooldown
        breaker.until = self.clock() + cooldown
        breaker.probe_at = None
        log.warning("channel breaker opened", channel=channel, failures=breaker.failures, cooldown_seconds=cooldown)

    def disable(self, channel: str, reason: str, *, manual: bool = False) -> None:
        """Take ``channel`` out until :meth:`enable`; logged once, with the reason (never a key).

        ``manual``: an operator's decision, which a reload does not undo.
        """
        breaker = self.of(channel)
        breaker.manual = breaker.manual or manual
        if breaker.state is BreakerState.DISABLED:
            return
        breaker.state, breaker.reason, breaker.probe_at = BreakerState.DISABLED, reason, None
        log.error("channel disabled", channel=channel, reason=reason)

    def enable(self, channel: str) -> None:
        """Put ``channel`` (and each of its keys) back in service, its failures forgotten."""
        if self.forget({channel}):
            log.info("channel enabled", channel=channel)

    def forget(self, channels: Iterable[str]) -> bool:
        """Drop the breakers of ``channels`` and of their keys (``name#index``); whether any was kept."""
        names = set(channels)
        gone = [name for name in self._breakers if name in names or name.partition("#")[0] in names]
        for name in gone:
            del self._breakers[name]
        return bool(gone)

    def after_reload(self, changed: Iterable[str]) -> None:
        """A reload: the breakers of changed or removed channels start afresh, and channels
        (or keys) the vendor refused are back in service; operators' disables stay."""
        refused = {name for name, breaker in self._breakers.items() if breaker.state is BreakerState.DISABLED}
        refused -= {name for name in refused if self._breakers[name].manual}
        if self.forget(set(changed) | refused) and refused:
            log.info("channels re-enabled by a reload", channels=sorted(refused))

    def snapshot(self, channels: Iterable[str]) -> dict[str, tuple[BreakerState, Breaker]]:
        """Each channel's state now and its breaker (a fresh one for healthy channels)."""
        return {name: (self.state(name), self._breakers.get(name) or Breaker()) for name in channels}
