"""The ledger audited straight from the store: every task ended, each hold closed once, sums that add up.

Reads the tasks, the ledger and the accounts from a SQLite file or a
PostgreSQL schema (not through the gateway) and checks, per task and per
token, what issue 20 promises:

- every task is terminal;
- each priced task has exactly one ``hold`` and exactly one closing entry,
  a ``settle`` when it completed, else a ``refund``; a free task has none;
- the hold is the price of the task's effective seconds and size; a settle is
  the price of the seconds the vendor reported, never more than the hold; a
  refund is the whole hold;
- no entry names a task the store does not hold;
- each token's cached sums equal its entries: nothing held, spent = its
  settles, credit = its credits, and the balance (credit - spent) is not
  negative;
- the sum of the entries (credits - settles) equals what the outcomes imply
  (the credits less the price of every completed task).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from reelay.models import amount_text
from reelay.store.ledger import from_micros

TERMINAL = ("completed", "failed", "cancelled")
_TASKS = "SELECT id, owner, model, status, seconds, size, result, error, cost_amount, cost_state FROM tasks"
_LEDGER = "SELECT seq, token, kind, task_id, amount_micros FROM ledger ORDER BY seq"
_ACCOUNTS = "SELECT token, credit_micros, held_micros, spent_micros FROM accounts ORDER BY token"

#: What a task's price is: ``(model, seconds, size) -> amount`` (None: the model is free).
Pricing = Callable[[str, float | None, str | None], Decimal | None]


@attrs.define
class Rows:
    tasks: list[tuple[Any, ...]]
    ledger: list[tuple[Any, ...]]
    accounts: list[tuple[Any, ...]]


def read_sqlite(path: str) -> Rows:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return Rows(
            [tuple(row) for row in connection.execute(_TASKS)],
            [tuple(row) for row in connection.execute(_LEDGER)],
            [tuple(row) for row in connection.execute(_ACCOUNTS)],
        )


async def read_postgres(url: str) -> Rows:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return Rows(
            [tuple(row) for row in await connection.fetch(_TASKS)],
            [tuple(row) for row in await connection.fetch(_LEDGER)],
            [tuple(row) for row in await connection.fetch(_ACCOUNTS)],
        )
    finally:
        await connection.close()


@attrs.define
class Audit:
    """The figures of one audit and every problem found (none: the ledger is exact)."""

    kills: int = 0
    asked: Counter[str] = attrs.field(factory=Counter)
    retries: Counter[str] = attrs.field(factory=Counter)
    tasks: int = 0
    outcomes: Counter[str] = attrs.field(factory=Counter)
    entries: Counter[str] = attrs.field(factory=Counter)
    sums: dict[str, Decimal] = attrs.field(factory=lambda: defaultdict(Decimal))
    implied_spent: Decimal = Decimal(0)
    balances: dict[str, Decimal] = attrs.field(factory=dict)
    problems: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        credits, settles = self.sums["credit"], self.sums["settle"]
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        entries = ", ".join(f"{kind} {self.entries[kind]}" for kind in ("credit", "hold", "settle", "refund"))
        asked = ", ".join(f"{name} {count}" for name, count in sorted(self.asked.items()))
        return [
            f"SIGKILLs: {self.kills}; requests sent again after a kill or a busy key: {sum(self.retries.values())}",
            f"outcomes the client asked for: {asked}",
            f"tasks in the store: {self.tasks}, terminal: {sum(self.outcomes.values())} ({outcomes})",
            f"ledger entries: {entries}",
            f"held {self.sums['hold']}, settled {settles}, refunded {self.sums['refund']}",
            f"sum of entries (credits - settles): {credits - settles}; implied by the outcomes:"
            f" {amount_text(credits - self.implied_spent)} (credits {credits} - completed tasks' prices"
            f" {amount_text(self.implied_spent)})",
            "balances: " + ", ".join(f"{token} {balance}" for token, balance in sorted(self.balances.items())),
            f"problems: {len(self.problems)}",
            *(f"  - {problem}" for problem in self.problems[:20]),
        ]


def outcome_of(status: str, error: dict[str, Any] | None) -> str:
    """``completed``, ``cancelled``, or ``failed`` with its code (``failed/timeout``)."""
    if status == "failed":
        return f"failed/{(error or {}).get('code', '?')}"
    return status


def audit(rows: Rows, price: Pricing) -> Audit:
    found = Audit()
    problem = found.problems.append
    entries_of: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    per_token: dict[str, Counter[str]] = defaultdict(Counter)
    for _, token, kind, task_id, micros in rows.ledger:
        amount = from_micros(micros)
        found.entries[kind] += 1
        found.sums[kind] += amount
        per_token[token][kind] += micros
        if task_id is not None:
            entries_of[task_id].append((kind, amount))
    found.tasks = len(rows.tasks)
    known = set()
    for task_id, _, model, status, seconds, size, result, error, cost_amount, cost_state in rows.tasks:
        known.add(task_id)
        if status not in TERMINAL:
            problem(f"{task_id}: not terminal ({status})")
            continue
        found.outcomes[outcome_of(status, json.loads(error) if error else None)] += 1
        entries = entries_of.get(task_id, [])
        kinds = Counter(kind for kind, _ in entries)
        hold = price(model, seconds, size)
        if hold is None:
            if entries or cost_amount is not None:
                problem(f"{task_id}: a free model's task with ledger entries {dict(kinds)}")
            continue
        if kinds["hold"] != 1 or kinds["settle"] + kinds["refund"] != 1 or len(entries) != 2:
            problem(f"{task_id} ({status}): entries {dict(kinds)}, not one hold and one settle or refund")
            continue
        held = next(amount for kind, amount in entries if kind == "hold")
        kind, amount = next((kind, amount) for kind, amount in entries if kind != "hold")
        if held != hold:
            problem(f"{task_id}: held {held}, the price of {seconds} s at {size} is {hold}")
        if status == "completed":
            reported = (json.loads(result) if result else {}).get("duration")
            expected = min(held, price(model, reported or seconds, size) or Decimal(0))
            found.implied_spent += expected
            if kind != "settle" or amount != expected:
                problem(f"{task_id} (completed): {kind} {amount}, expected a settle of {expected}")
        elif kind != "refund" or amount != held:
            problem(f"{task_id} ({status}): {kind} {amount}, expected a refund of {held}")
        state = {"settle": "settled", "refund": "refunded"}[kind]
        if cost_state != state or Decimal(cost_amount) != amount:
            problem(f"{task_id}: the task's cost is {cost_amount} {cost_state}, its entry a {kind} of {amount}")
    for task_id in sorted(set(entries_of) - known):
        # A create answered with an error leaves no task, only its hold and the hold's refund.
        entries = entries_of[task_id]
        kinds = sorted(kind for kind, _ in entries)
        if kinds != ["hold", "refund"] or entries[0][1] != entries[1][1]:
            problem(f"{task_id}: ledger entries {kinds} for a task the store does not hold")
    for token, credit, held, spent in rows.accounts:
        sums = per_token[token]
        balance = from_micros(credit) - from_micros(spent)
        found.balances[token] = balance
        if held != 0:
            problem(f"{token}: {from_micros(held)} still held with every task ended")
        if credit != sums["credit"] or spent != sums["settle"]:
            problem(f"{token}: account credit {credit} spent {spent} (millionths); its entries say {dict(sums)}")
        if balance < 0:
            problem(f"{token}: negative balance {balance}")
    if found.sums["credit"] - found.sums["settle"] != found.sums["credit"] - found.implied_spent:
        problem(f"settled {found.sums['settle']} in all, the completed tasks imply {found.implied_spent}")
    if found.sums["hold"] != found.sums["refund"] + sum(
        (amount for entries in entries_of.values() for kind, amount in entries if kind == "hold" and _settled(entries)),
        Decimal(0),
    ):
        problem("the holds are not all closed: holds != refunds + holds of settled tasks")
    return found


def _settled(entries: list[tuple[str, Decimal]]) -> bool:
    return any(kind == "settle" for kind, _ in entries)
