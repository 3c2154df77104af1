"""A vendor's status vocabulary, declared as data.

Each plugin declares the whole vocabulary its upstream can send in one
:class:`StatusTable` and reads every status through it, so that:

- a terminal status (``cancelled``, ``expired``, ``deleted``...) is always
  read as the end of the task, never as a failed poll;
- a status the table does not know is visible (a warning naming the value)
  and transient (the task is polled again later), never silent and never
  the end of the task.

``reelay.testing.check_status_table`` checks a plugin's mapping against its
whole table.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import structlog

from .errors import FailureKind, UpstreamError
from .models import TaskStatus

log = structlog.get_logger("reelay")

#: The code of the transient failure an unknown status is reported as.
UNKNOWN_STATUS = "unknown_status"


@attrs.frozen
class StatusTable:
    """Every status value a vendor sends, and what each means in Reelay's vocabulary.

    :param vendor: the vendor's name, for log lines and messages.
    :param statuses: each value the upstream can send, mapped to a :class:`TaskStatus`.
    :param field: where the value is in the vendor's answer, for messages.
    """

    vendor: str
    statuses: Mapping[str, TaskStatus]
    field: str = "status"

    def __attrs_post_init__(self) -> None:
        for value, status in self.statuses.items():
            if not isinstance(status, TaskStatus):
                raise TypeError(f"{self.vendor} status {value!r} maps to {status!r}, not a TaskStatus")

    def read(self, value: object) -> TaskStatus:
        """The :class:`TaskStatus` a vendor's status value means.

        :raises UpstreamError: ``TRANSIENT`` with code ``unknown_status`` for a
            value the table does not know, after a warning naming it: the task
            is polled again, and the value shows in the logs.
        """
        status = self.statuses.get(value) if isinstance(value, str) else None
        if status is not None:
            return status
        shown = repr(value)[:60]
        log.warning("unknown vendor status", vendor=self.vendor, field=self.field, value=shown)
        raise UpstreamError(
            FailureKind.TRANSIENT, f"{self.vendor} reported an unknown {self.field} {shown}", code=UNKNOWN_STATUS
        )

    def values(self, status: TaskStatus) -> tuple[str, ...]:
        """The vendor's values that mean ``status``."""
        return tuple(value for value, mapped in self.statuses.items() if mapped is status)
