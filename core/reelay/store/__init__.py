"""Task storage: the interface the gateway uses, and how to open one by URL.

The SQLite store is the embedded default; the PostgreSQL store (the
``postgres`` extra) is shared by several gateway processes: polling is
claimed with a lease (``claim_due``), and updates from the poller name the
lease they hold.
"""

from __future__ import annotations

from typing import Protocol

from ..models import Task
from .sqlite import StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


class Store(Protocol):
    """Where tasks live. Every method is safe to call concurrently."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, task: Task) -> None:
        """Record a new task (before anything is sent upstream)."""

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        """Write a task's current state (its stored request only ``with_request``).

        With ``lease``, the write only happens while that lease still holds
        the task, and it releases the lease. Returns whether it was written.
        A finished task's stored request is dropped.
        """

    async def save_submission(self, task: Task) -> None:
        """Record that the vendor accepted the task: its channel, vendor reference and next poll."""

    async def get(self, task_id: str, *, with_request: bool = False) -> Task | None:
        """A task; its stored request (kept for recovery, maybe large) only ``with_request``."""

    async def list(self, owner: str, *, limit: int, after: str | None = None, descending: bool = True) -> list[Task]:
        """The owner's tasks by creation time, starting after the task ``after``."""

    async def delete(self, task_id: str) -> None: ...

    async def claim_due(self, now: float, lease: str, lease_seconds: float, limit: int) -> list[Task]:
        """Unfinished tasks due for a poll, leased to ``lease`` so no other poller takes them
        (without their stored request)."""

    async def release_leases(self, lease: str) -> None:
        """Free every task leased to ``lease`` (a poller stopping cleanly)."""

    async def next_due(self) -> float | None:
        """When the earliest unfinished task is due, or None when there is none."""

    async def count_by_status(self) -> dict[str, int]:
        """How many tasks the store holds in each status (the status's value), for metrics."""

    async def count_active_by_channel(self) -> dict[str, int]:
        """How many unfinished tasks each channel has (the admin's in-flight figure)."""

    async def list_all(
        self,
        *,
        limit: int,
        after: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        owner: str | None = None,
    ) -> list[Task]:
        """Every token's tasks, newest first, filtered by status, channel and owner (the admin's view)."""

    async def completed_since(self, since: float, *, limit: int) -> list[Task]:
        """Tasks completed at ``since`` or later whose result the gateway holds no
        file of (``VideoResult.path`` unset), oldest first (without their stored request)."""


def open_store(url: str) -> Store:
    """A store for a URL such as ``sqlite:///reelay.db``, ``sqlite://:memory:`` or
    ``postgresql://USER:PASSWORD@HOST/DATABASE``; it connects when opened.

    Raises ValueError for a URL no store takes, ImportError when the store's
    driver is not installed; neither message holds the URL's password.
    """
    if url.startswith("sqlite://"):
        from .sqlite import SQLiteStore

        path = url.removeprefix("sqlite://")
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]  # sqlite:///relative.db -> relative.db
        elif path.startswith("//"):
            path = path[1:]  # sqlite:////abs/path.db -> /abs/path.db
        return SQLiteStore(path or ":memory:")
    scheme = url.split(":", 1)[0]
    if scheme in ("postgresql", "postgres"):
        try:
            from .postgres import PostgresStore
        except ModuleNotFoundError as error:
            if error.name != "asyncpg":
                raise
            raise ImportError("a PostgreSQL store needs asyncpg: pip install 'reelay[postgres]'") from None
        return PostgresStore(url)
    raise ValueError(f"unsupported store URL scheme {scheme!r}: use sqlite:///PATH or postgresql://HOST/DATABASE")
