"""How events leave the engine: the observer hooks, called so that no observer can fail a task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
import structlog

from ..models import Channel, GenerationRequest, Task, TaskStatus

log = structlog.get_logger("reelay")


class Events:
    """Calls the observer hooks (``reelay_task_changed``, ``reelay_request_accepted``,
    ``reelay_upstream_called``, ``reelay_unknown_status``).

    An observer that raises is logged and otherwise ignored: the task goes on.
    """

    def __init__(self, pm: pluggy.PluginManager):
        self._hook = pm.hook
        self._listeners: list[Callable[[Task, TaskStatus], None]] = []

    def add_listener(self, listener: Callable[[Task, TaskStatus], None]) -> None:
        """Call ``listener(task, previous)`` with the hook: the engine's own observers
        (webhooks, the event stream), each this dispatcher's alone, unlike plugins."""
        self._listeners.append(listener)

    def task_changed(self, task: Task, previous: TaskStatus) -> None:
        """A task's status changed from ``previous`` (not on progress-only updates)."""
        _notify(self._hook.reelay_task_changed, task=task, previous=previous)
        for listener in self._listeners:
            try:
                listener(task, previous)
            except Exception:  # as with a plugin's observer: the task goes on
                log.exception("task listener raised", listener=getattr(listener, "__qualname__", repr(listener)))

    def request_accepted(self, task: Task, request: GenerationRequest) -> None:
        """A task was accepted upstream and recorded."""
        _notify(self._hook.reelay_request_accepted, task=task, request=request)

    def upstream_called(
        self, channel: Channel, operation: str, seconds: float, outcome: str, model: str | None = None
    ) -> None:
        """A vendor call ended (see :class:`~reelay.engine.calls.UpstreamCalls`)."""
        _notify(
            self._hook.reelay_upstream_called,
            channel=channel,
            operation=operation,
            seconds=seconds,
            outcome=outcome,
            model=model,
        )

    def unknown_status(self, channel: Channel, status: str) -> None:
        """A vendor answered with a status its plugin does not map (call it where that is noticed)."""
        _notify(self._hook.reelay_unknown_status, channel=channel, status=status)


def _notify(hook: Any, **kwargs: Any) -> None:
    if not hook.get_hookimpls():  # nobody listens: skip pluggy's argument checks and call loop
        return
    try:
        hook(**kwargs)
    except Exception:  # an observer's bug must not fail the task
        log.exception("observer hook raised", hook=hook.name)
