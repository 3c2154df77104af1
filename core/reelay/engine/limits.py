"""Per-token request limits (``[[tokens]] rpm``) on the routes that create tasks.

A moving window of one minute per token, kept in this process's memory by the
``limits`` package: with several gateway processes (a shared PostgreSQL
store) each process allows a token its ``rpm``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

from limits import RateLimitItemPerMinute, storage, strategies

from ..errors import ReelayError
from ..models import Token


class RateLimitExceeded(ReelayError):
    """429: the token sent more requests this minute than its ``rpm``; ``headers`` carry ``Retry-After``."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RateLimits:
    """Counts each limited token's create requests in a moving one-minute window.

    :param tokens: the configured tokens; those without ``rpm`` are not limited.
    """

    def __init__(self, tokens: Iterable[Token]):
        self._limiter: strategies.MovingWindowRateLimiter | None = None
        self.configure(tokens)

    def configure(self, tokens: Iterable[Token]) -> None:
        """Take the tokens' ``rpm`` (at start and on a reload; the requests counted so far still count)."""
        self._items = {token.name: RateLimitItemPerMinute(token.rpm) for token in tokens if token.rpm}
        if self._items and self._limiter is None:
            self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())

    def hit(self, token: Token) -> None:
        """Count one request of ``token``; :class:`RateLimitExceeded` when it is over its ``rpm``."""
        item = self._items.get(token.name)
        if item is None or self._limiter is None:
            return
        if self._limiter.hit(item, token.name):
            return
        reset = self._limiter.get_window_stats(item, token.name).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise RateLimitExceeded(
            f"this token may create {item.amount} tasks per minute; retry in {retry_after} s", retry_after
        )
