"""Multi-key channels: which key a new task goes out with.

A channel may hold several keys of one vendor account (``[[channels.keys]]``).
Each key has a breaker of its own (:meth:`Channel.key_name`), so a key the
vendor refuses (``FailureKind.CHANNEL``) is taken out while the others serve.
New tasks take the keys in turn; a task keeps its key (``Task.key_index``)
for every later call: polls, cancels, downloads.
"""

from __future__ import annotations

from ..models import Channel
from .breakers import Breakers, BreakerState


class KeyRing:
    """Round-robin over each channel's keys that are in service.

    :param breakers: the breakers, one per key of a multi-key channel.
    """

    def __init__(self, breakers: Breakers):
        self.breakers = breakers
        self._next: dict[str, int] = {}

    def available(self, channel: Channel) -> bool:
        """Whether any key of ``channel`` may be tried (a one-key channel's breaker is the channel's)."""
        if not channel.keys:
            return True
        state = self.breakers.state
        return any(
            state(channel.key_name(index)) in (BreakerState.CLOSED, BreakerState.HALF_OPEN)
            for index in range(len(channel.keys))
        )

    def pick(self, channel: Channel) -> Channel | None:
        """``channel`` with the next key in service (itself for a one-key channel); None when none is."""
        if not channel.keys:
            return channel
        count = len(channel.keys)
        start = self._next.get(channel.name, 0)
        for step in range(count):
            index = (start + step) % count
            if self.breakers.admit((channel.key_name(index),), str):
                self._next[channel.name] = index + 1
                return channel.with_key(index)
        return None

    def forget(self, names: set[str]) -> None:
        """Start these channels' turns again (their keys changed)."""
        for name in names:
            self._next.pop(name, None)
