"""The ledger's rules, shared by both stores: entries, accounts, admission, and closing a hold.

Money is a :class:`~decimal.Decimal` everywhere but in the database, where
it is a whole number of millionths (exact, and summed exactly in SQL).

Balance = credits - spent - held. A task's hold is an entry at submission;
its settle (the amount charged) or refund (the hold released) is written by
the save that makes the task terminal, in the same transaction, only when
the stored task still shows the hold: a second save of a finished task, a
lost lease or a concurrent poller writes nothing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import attrs

from ..errors import ReelayError
from ..models import Cost, CostState, Task, TaskStatus, amount_text

MICROS = Decimal(1_000_000)
_PLACE = Decimal("0.000001")


def to_micros(amount: Decimal) -> int:
    return int((amount * MICROS).to_integral_value(rounding=ROUND_HALF_EVEN))


def hold_values(task: Task, micros: int) -> tuple[object, ...]:
    """The values of a new task's hold entry (token, kind, amount, currency, time, task, model, seconds, note),
    in the column order both stores' ledger inserts use."""
    assert task.cost is not None
    return (
        task.owner,
        EntryKind.HOLD,
        micros,
        task.cost.currency,
        task.created_at,
        task.id,
        task.model,
        task.seconds,
        None,
    )


def from_micros(micros: int | None) -> Decimal:
    return Decimal(amount_text(Decimal(micros or 0) / MICROS))


def money(amount: Decimal) -> Decimal:
    """An amount rounded to a millionth, as the store keeps it."""
    return amount.quantize(_PLACE, rounding=ROUND_HALF_EVEN)


class EntryKind:
    HOLD = "hold"
    SETTLE = "settle"
    REFUND = "refund"
    CREDIT = "credit"


@attrs.frozen
class Entry:
    """One ledger line; ``amount`` is what the line says (a hold's, a charge's, a refund's, a credit's)."""

    seq: int
    token: str
    kind: str
    amount: Decimal
    currency: str
    created_at: float
    task_id: str | None = None
    model: str | None = None
    seconds: float | None = None
    note: str | None = None

    @property
    def id(self) -> str:
        return f"entry_{self.seq}"


@attrs.frozen
class Account:
    """A token's sums, kept equal to its entries in the transactions that write them."""

    token: str
    credit: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    spent: Decimal = Decimal(0)
    quota_applied: bool = False

    @property
    def balance(self) -> Decimal:
        return self.credit - self.held - self.spent


@attrs.frozen
class ModelUsage:
    token: str
    model: str
    tasks: int
    seconds: float
    amount: Decimal


@attrs.frozen
class Admission:
    """What a new task must fit in: the token's balance (when ``limited``) and ``max_in_flight``."""

    limited: bool = False
    max_in_flight: int | None = None


class Refused(ReelayError):
    """The store refused a new task (nothing was written)."""

    status = 429


class QuotaExceeded(Refused):
    def __init__(self, balance: Decimal, price: Decimal):
        super().__init__(f"balance {balance} is less than the price {price}", code="insufficient_quota")
        self.balance = balance
        self.price = price


class TooManyInFlight(Refused):
    def __init__(self, in_flight: int, limit: int):
        super().__init__(f"{in_flight} unfinished tasks (limit {limit})", code="too_many_tasks")
        self.in_flight = in_flight
        self.limit = limit


def check_admission(task: Task, admission: Admission, account: Account | None, in_flight: int | None) -> None:
    """Raise :class:`Refused` when the task does not fit (the caller holds the token's lock)."""
    if admission.max_in_flight is not None and in_flight is not None and in_flight >= admission.max_in_flight:
        raise TooManyInFlight(in_flight, admission.max_in_flight)
    if admission.limited and task.cost is not None:
        balance = account.balance if account is not None else Decimal(0)
        if balance < task.cost.amount:
            raise QuotaExceeded(balance, task.cost.amount)


@attrs.frozen
class Closing:
    """The entry a terminal save writes: a settle of ``charged`` or a refund of the hold."""

    kind: str
    charged: Decimal
    released: Decimal
    cost: Cost


def closing(task: Task, stored_state: str | None, stored_amount: str | None) -> Closing | None:
    """The settle or refund a save of ``task`` owes, given what the store holds of it (None: nothing).

    Only a stored hold closes. A completed task settles at its in-memory
    settled amount (the engine's price of what the vendor made), or else the
    hold, never more than the hold; any other end refunds the hold.
    """
    if not task.is_terminal or stored_state != CostState.HELD.value or stored_amount is None:
        return None
    hold = Decimal(stored_amount)
    currency = task.cost.currency if task.cost is not None else ""
    if task.status is TaskStatus.COMPLETED:
        charged = hold
        if task.cost is not None and task.cost.state is CostState.SETTLED:
            charged = min(hold, money(task.cost.amount))
        return Closing(EntryKind.SETTLE, charged, hold, Cost(charged, currency, CostState.SETTLED))
    return Closing(EntryKind.REFUND, hold, hold, Cost(hold, currency, CostState.REFUNDED))


def cost_columns(task: Task) -> tuple[str | None, str | None, str | None]:
    cost = task.cost
    if cost is None:
        return (None, None, None)
    return (amount_text(money(cost.amount)), cost.currency, cost.state.value)


def cost_from_columns(amount: str | None, currency: str | None, state: str | None) -> Cost | None:
    if amount is None or state is None:
        return None
    return Cost(Decimal(amount), currency or "", CostState(state))
