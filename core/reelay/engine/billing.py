"""Money: prices, holds at submission, settles on what the vendor made, quotas, usage.

The engine's room for billing, reached through a narrow interface:
:class:`~reelay.engine.submission.Submitter` records a new task through
:meth:`Billing.admit` (the price held, or a 429 before anything goes
upstream), :class:`~reelay.engine.tracking.Tracker` prices a completed
task's actual seconds through :meth:`Billing.settle`. The ledger entries
themselves are the store's: a save that makes a task terminal writes its
settle or refund in the same transaction (:mod:`reelay.store.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import structlog

from ..config import Config, Price
from ..errors import RateLimited
from ..models import Cost, CostState, Task, Token
from ..store import Store
from ..store.ledger import Account, Admission, Entry, ModelUsage, QuotaExceeded, TooManyInFlight, money

log = structlog.get_logger("reelay")

#: Seconds a caller at its ``max_in_flight`` is told to wait (``Retry-After``).
IN_FLIGHT_RETRY_AFTER = 10


class Billing:
    """Prices and the token's ledger, as the engine sees them.

    :param config: the prices, the currency, the tokens' quotas and limits.
    :param store: where the ledger lives.
    :param clock: the time now, as Unix seconds.
    """

    def __init__(self, config: Config, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take prices, currency and tokens from ``config`` (at start and on a reload:
        tasks already held keep their price; a new token's quota needs :meth:`apply_quotas`)."""
        self.currency = config.billing.currency
        self.prices: dict[str, Price] = {price.model: price for price in config.prices}
        self.tokens = {token.name: token for token in config.tokens}

    def price(self, model: str, seconds: float | None, size: str | None) -> Decimal | None:
        """What ``seconds`` of ``model`` at ``size`` cost; None when the model is free."""
        price = self.prices.get(model)
        if price is None:
            return None
        per_second = price.sizes.get(size, price.per_second) if size is not None else price.per_second
        return money(price.per_request + per_second * Decimal(str(seconds or 0)))

    async def admit(self, token: Token, task: Task) -> None:
        """Record a new task with its price held; :class:`RateLimited` (nothing recorded) when
        the token's balance cannot cover it or it has ``max_in_flight`` unfinished tasks."""
        amount = self.price(task.model, task.seconds, task.size)
        task.cost = Cost(amount, self.currency) if amount is not None else None
        admission = None
        if token.quota is not None or token.max_in_flight is not None:
            admission = Admission(limited=token.quota is not None, max_in_flight=token.max_in_flight)
        if task.cost is None and admission is None:
            await self.store.insert(task)  # nothing to hold or check: the plain insert
            return
        try:
            await self.store.insert(task, admission=admission)
        except QuotaExceeded as refused:
            raise RateLimited(
                f"insufficient quota: the balance is {refused.balance} {self.currency} and this request costs"
                f" {refused.price} {self.currency}; ask an operator for credit",
                code="insufficient_quota",
                headers={"x-should-retry": "false"},
            ) from None
        except TooManyInFlight as refused:
            raise RateLimited(
                f"too many unfinished tasks: {refused.in_flight} of at most {refused.limit}; retry when one finishes",
                code="too_many_tasks",
                headers={"Retry-After": str(IN_FLIGHT_RETRY_AFTER)},
            ) from None

    def settle(self, task: Task) -> None:
        """Price a completed task on the seconds the vendor reports (else its effective
        seconds); its next save settles at that, never more than the hold."""
        if task.cost is None or task.cost.state is not CostState.HELD:
            return
        reported = task.result.duration if task.result is not None else None
        amount = self.price(task.model, reported if reported else task.seconds, task.size)
        if amount is not None:
            task.cost = Cost(amount, task.cost.currency, CostState.SETTLED)

    async def apply_quotas(self) -> None:
        """Credit each token's configured quota, once ever (at start; processes may race)."""
        for token in self.tokens.values():
            if token.quota is not None:
                entry = await self.store.apply_quota(token.name, token.quota, self.currency, self.clock())
                if entry is not None:
                    log.info("quota credited", token=token.name, amount=str(token.quota))

    async def credit(self, token_name: str, amount: Decimal, note: str | None = None) -> Entry:
        """An operator's top-up (or, negative, a correction)."""
        return await self.store.credit(token_name, amount, self.currency, self.clock(), note)

    def quota_of(self, token_name: str) -> Decimal | None:
        token = self.tokens.get(token_name)
        return token.quota if token is not None else None

    async def account(self, token_name: str) -> Account:
        return await self.store.account(token_name)

    async def accounts(self) -> list[Account]:
        return await self.store.accounts()

    async def usage(self, token_name: str | None, since: float | None, until: float | None) -> list[ModelUsage]:
        return await self.store.usage(token_name, since, until)

    async def entries(self, token_name: str, *, limit: int, before: int | None = None) -> list[Entry]:
        return await self.store.entries(token_name, limit=limit, before=before)
