"""The engine: routing, submission, tracking and results, composed by :class:`Dispatcher`.

Imports run one way: the HTTP edge imports the engine; the engine imports the
contract (``reelay.models``, ``reelay.errors``, ``reelay.hookspecs`` ...) and
the store, never the HTTP edge.
"""

from .dispatcher import SUBMISSION_GRACE_SECONDS, Dispatcher, LocalContent, new_task_id

__all__ = ["SUBMISSION_GRACE_SECONDS", "Dispatcher", "LocalContent", "new_task_id"]
