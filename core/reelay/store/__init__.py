"""Task storage: the interface the gateway uses, and how to open one by URL.

The SQLite store is the embedded default; the PostgreSQL store (the
``postgres`` extra) is shared by several gateway processes: polling is
claimed with a lease (``claim_due``), and updates from the poller name the
lease they hold.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from ..models import Task
from .ledger import Account, Admission, Entry, ModelUsage
from .sqlite import StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


class Store(Protocol):
    """Where tasks live. Every method is safe to call concurrently."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def insert(self, task: Task, *, admission: Admission | None = None) -> None:
        """Record a new task (before anything is sent upstream).

        With a cost, its hold is written in the same transaction; with an
        ``admission``, a task that does not fit the token's balance or
        ``max_in_flight`` raises :class:`~reelay.store.ledger.Refused` and nothing is written.
        """

    async def save(self, task: Task, *, lease: str | None = None, with_request: bool = False) -> bool:
        """Write a task's current state (its stored request only ``with_request``).

        With ``lease``, the write only happens while that lease still holds
        the task, and it releases the lease. Returns whether it was written.
        A finished task's stored request is dropped. The save that makes a
        held task terminal writes its settle (completed) or refund (any
        other end) in the same transaction, and ``task.cost`` shows it;
        any later save writes no entry. The stored cost changes no other way.
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

    # ------------------------------------------------------------ the ledger (reelay.store.ledger)

    async def credit(self, token: str, amount: Decimal, currency: str, now: float, note: str | None = None) -> Entry:
        """Add a ``credit`` entry (negative: a correction)."""

    async def apply_quota(self, token: str, amount: Decimal, currency: str, now: float) -> Entry | None:
        """Credit a token's configured quota once ever; None if it was."""

    async def account(self, token: str) -> Account: ...

    async def accounts(self) -> list[Account]: ...

    async def entries(self, token: str, *, limit: int, before: int | None = None) -> list[Entry]:
        """The token's entries, newest first, older than the entry numbered ``before``."""

    async def usage(self, token: str | None, since: float | None, until: float | None) -> list[ModelUsage]:
        """Settled tasks per token and model, settled in ``[since, until)``."""

    # ------------------------------------------------------------ idempotency keys

    async def claim_key(
        self, token: str, key: str, fingerprint: str, task_id: str, now: float, expired_before: float
    ) -> tuple[str, str, float]:
        """Record the key for ``task_id`` unless a live one (created at or after
        ``expired_before``) exists; returns the stored ``(fingerprint, task_id, created_at)``."""

    async def replace_key(
        self, token: str, key: str, old_task_id: str, fingerprint: str, task_id: str, now: float
    ) -> bool:
        """Point the key at ``task_id`` if it still names ``old_task_id``."""

    async def release_key(self, token: str, key: str, task_id: str) -> None:
        """Forget the key if it still names ``task_id``."""


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
