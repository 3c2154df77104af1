"""Reloading the configuration file without a restart (``SIGHUP``, ``POST /admin/reload``).

A reload checks the whole file first, exactly as ``reelay check-config``
does: a file with any problem changes nothing. A good file is then swapped
in between two awaits (the event loop runs one thing at a time), so a
request sees the old configuration or the new, never a mix:

- tokens, channels, aliases, ``[models]``, prices and ``[billing]``,
  per-token limits and ``[breaker]`` take effect at once;
- a removed channel stays, **draining**: never routed to, still polled,
  cancelled and downloaded from for its unfinished tasks, and dropped once
  they have ended;
- the breakers of changed and removed channels start afresh, and channels
  (or keys) the vendor refused are back in service; an operator's disable stays;
- ``[server]``, ``[store]``, ``[poller]``, ``[logging]``, ``[metrics]``,
  ``[admin]``, ``[webhooks]`` and ``[events]`` need a restart: a changed one
  is logged and reported, and the running value kept.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import attrs
import structlog

from ..config import Config, check_file
from ..errors import InvalidRequest
from ..models import Channel
from .context import EngineContext
from .limits import RateLimits
from .routing import Router, configured_channels
from .webhooks import Webhooks

log = structlog.get_logger("reelay")

#: The sections a running gateway keeps until it restarts.
RESTART_SECTIONS = ("server", "store", "poller", "logging", "metrics", "admin", "webhooks", "events")
#: How often a draining channel's unfinished tasks are counted (seconds).
DRAIN_CHECK_SECONDS = 30.0


class ReloadNotAvailable(InvalidRequest):
    """400: the gateway was built from a configuration object, not read from a file."""

    code = "reload_not_available"


class ReloadFailed(InvalidRequest):
    """400: the file has problems (``problems``, as ``reelay check-config`` lists them); nothing changed."""

    code = "invalid_configuration"

    def __init__(self, problems: list[str]):
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["problems"] = self.problems
        return body


class Reloading:
    """Re-reads the configuration file and swaps it into the running engine.

    :param context: the engine's shared state (its config, channels, breakers, keys, billing).
    :param path: the configuration file, or None when the dispatcher was given a :class:`Config`.
    :param router: routing, reconfigured in place.
    :param limits: the per-token limits, reconfigured in place.
    :param webhooks: webhook events (the tokens' targets and secrets).
    """

    def __init__(
        self,
        context: EngineContext,
        path: str | os.PathLike[str] | None,
        router: Router,
        limits: RateLimits,
        webhooks: Webhooks,
    ):
        self.context = context
        self.path = path
        self.router = router
        self.limits = limits
        self.webhooks = webhooks
        self.drain_check_seconds = DRAIN_CHECK_SECONDS
        self._lock = asyncio.Lock()
        self._drainer: asyncio.Task[None] | None = None

    async def reload(self) -> dict[str, Any]:
        """Re-read the file; returns what changed.

        :raises ReloadNotAvailable: there is no file to read.
        :raises ReloadFailed: the file has problems; nothing changed (they are logged too).
        """
        if self.path is None:
            raise ReloadNotAvailable("this gateway was not started from a configuration file; nothing to reload")
        async with self._lock:  # one reload at a time
            context = self.context
            config, problems = check_file(self.path, context.registry, context.pm)
            if problems or config is None:
                log.error("configuration not reloaded", path=str(self.path), problems=problems)
                raise ReloadFailed(problems)
            summary = self._swap(config)  # no await inside: atomic for every request and poll
            await context.billing.apply_quotas()  # a new token's quota, credited once ever
            log.info("configuration reloaded", path=str(self.path), **summary)
            if summary["restart_required"]:
                log.warning("configuration sections changed that need a restart", sections=summary["restart_required"])
            if context.draining and (self._drainer is None or self._drainer.done()):
                self._drainer = asyncio.create_task(self._drain(), name="reelay-drain-channels")
            return summary

    def _swap(self, loaded: Config) -> dict[str, Any]:
        context = self.context
        old = context.config
        restart = [name for name in RESTART_SECTIONS if getattr(loaded, name) != getattr(old, name)]
        config = attrs.evolve(loaded, **{name: getattr(old, name) for name in RESTART_SECTIONS})
        fresh = configured_channels(config, context.registry)
        current = context.channels
        removed = {name for name in current if name not in fresh}
        added = sorted(name for name in fresh if name not in current)
        changed = sorted(name for name in fresh if name in current and current[name] != fresh[name])
        kept: dict[str, Channel] = {name: current[name] for name in removed}
        # The dictionary every part holds is updated in place: all see the new channels at once.
        current.clear()
        current.update(fresh)
        current.update(kept)
        context.draining.clear()
        context.draining.update(removed)
        context.config = config
        context.scrubber = EngineContext.scrubber_for(current.values())
        self.router.configure(config, current)
        self.limits.configure(config.tokens)
        context.billing.configure(config)
        self.webhooks.tokens = {token.name: token for token in config.tokens}
        context.breakers.config = config.breaker
        context.breakers.after_reload({*changed, *removed})
        context.keys.forget({*changed, *removed})
        return {
            "tokens": len(config.tokens),
            "channels": sorted(fresh),
            "added": added,
            "changed": changed,
            "draining": sorted(removed),
            "restart_required": restart,
        }

    async def _drain(self) -> None:
        """Drop draining channels once they have no unfinished task."""
        context = self.context
        while context.draining:
            await asyncio.sleep(self.drain_check_seconds)
            await self.drop_drained()

    async def drop_drained(self) -> list[str]:
        """Drop the draining channels without unfinished tasks now; returns their names."""
        context = self.context
        active = await context.store.count_active_by_channel()
        done = sorted(name for name in context.draining if not active.get(name))
        for name in done:
            context.draining.discard(name)
            context.channels.pop(name, None)
        if done:
            log.info("draining channels dropped: their tasks have ended", channels=done)
        return done

    async def close(self) -> None:
        """Stop watching draining channels."""
        if self._drainer is not None:
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)
            self._drainer = None
