"""Task <-> storage row. The store's own converter, separate from the HTTP wire."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import cattrs
import orjson

from ..models import Adjustment, GenerationRequest, Task, TaskError, TaskStatus, VendorRef, VideoResult
from .ledger import cost_columns, cost_from_columns

_converter = cattrs.Converter(omit_if_default=True)
_converter.register_unstructure_hook(bytes, lambda value: None)  # inline bytes never reach the store

COLUMNS = (
    "id",
    "owner",
    "model",
    "vendor",
    "channel",
    "status",
    "progress",
    "created_at",
    "updated_at",
    "completed_at",
    "seconds",
    "size",
    "prompt",
    "vendor_ref",
    "result",
    "error",
    "adjustments",
    "request",
    "next_poll_at",
    "poll_failures",
    "remixed_from",
)
#: The columns the first release's schema has; later ones come from migrations.
BASE_COLUMNS = COLUMNS
#: What a task costs (migration v0002): written by insert() and by the ledger's closing, never by save().
COST_COLUMNS = ("cost_amount", "cost_currency", "cost_state")
#: Which key of a multi-key channel a task was submitted with (migration v0020).
KEY_COLUMNS = ("key_index",)
COLUMNS = (*BASE_COLUMNS, *COST_COLUMNS, *KEY_COLUMNS)


#: Every column but the id and the stored request, which only insert() and
#: explicit request updates write (reads usually skip it: it can hold images),
#: and the cost, which only the ledger writes.
UPDATED_COLUMNS = (*(column for column in BASE_COLUMNS if column not in ("id", "request")), *KEY_COLUMNS)
REQUEST_INDEX = COLUMNS.index("request")


def _dump(value: Any) -> str | None:
    if value is None or value == ():
        return None
    return orjson.dumps(_converter.unstructure(value)).decode()


@functools.cache
def _structure_hook(cls: Any) -> Any:
    # Looked up once per class: every status read decodes a row.
    return _converter.get_structure_hook(cls)


def _load(text: str | None, cls: Any) -> Any:
    if text is None:
        return None
    if len(text) > 2048:  # a stored request with images: decoded once, never kept
        return _structure_hook(cls)(orjson.loads(text), cls)
    return _decoded(text, cls)


# The decoded classes are frozen, so equal column text can share one object:
# status reads of the same tasks decode each small blob once.
@functools.lru_cache(maxsize=8192)
def _decoded(text: str, cls: Any) -> Any:
    return _structure_hook(cls)(orjson.loads(text), cls)


def to_update_row(task: Task) -> tuple[Any, ...]:
    """The values of :data:`UPDATED_COLUMNS`, in order."""
    return (
        task.owner,
        task.model,
        task.vendor,
        task.channel,
        task.status.value,
        task.progress,
        task.created_at,
        task.updated_at,
        task.completed_at,
        task.seconds,
        task.size,
        task.prompt,
        _dump(task.vendor_ref),
        _dump(task.result),
        _dump(task.error),
        _dump(task.adjustments),
        task.next_poll_at,
        task.poll_failures,
        task.remixed_from,
        task.key_index,
    )


def to_row(task: Task) -> tuple[Any, ...]:
    """The values of :data:`COLUMNS`, in order."""
    values = to_update_row(task)
    split = REQUEST_INDEX - 1
    return (task.id, *values[:split], _dump(task.request), *values[split:-1], *cost_columns(task), values[-1])


def request_json(task: Task) -> str | None:
    return _dump(task.request)


def vendor_ref_json(task: Task) -> str | None:
    return _dump(task.vendor_ref)


_STATUSES = {status.value: status for status in TaskStatus}  # a dict lookup, not TaskStatus()'s Enum machinery


def from_row(row: Any) -> Task:
    return Task(
        id=row[0],
        owner=row[1],
        model=row[2],
        vendor=row[3],
        channel=row[4],
        status=_STATUSES[row[5]],
        progress=row[6],
        created_at=row[7],
        updated_at=row[8],
        completed_at=row[9],
        seconds=row[10],
        size=row[11],
        prompt=row[12],
        vendor_ref=_load(row[13], VendorRef),
        result=_load(row[14], VideoResult),
        error=_load(row[15], TaskError),
        adjustments=tuple(_load(row[16], list[Adjustment]) or ()),
        request=_load(row[17], GenerationRequest),
        next_poll_at=row[18],
        poll_failures=row[19],
        remixed_from=row[20],
        cost=cost_from_columns(row[21], row[22], row[23]),
        key_index=row[24],
    )


def filters(
    *, status: str | None, channel: str | None, owner: str | None, placeholder: Callable[[int], str]
) -> tuple[list[str], list[object]]:
    """``WHERE`` conditions and their parameters for the admin's task listing (``placeholder(n)``: the n-th)."""
    where: list[str] = []
    params: list[object] = []
    for column, value in (("status", status), ("channel", channel), ("owner", owner)):
        if value is not None:
            params.append(value)
            where.append(f"{column} = {placeholder(len(params))}")
    return where, params
