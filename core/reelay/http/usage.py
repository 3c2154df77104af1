"""The caller's money: ``GET /v1/usage`` (balance, holds, spend by model) and
``GET /v1/usage/entries`` (the ledger, newest first, in OpenAI's list shape)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from ..errors import InvalidRequest
from ..models import amount_text
from .common import ROUTE_PREFIX, authenticate, dispatcher_of, json_response

#: The latest time ``since`` and ``until`` take (well past any task; keeps them exact as floats).
MAX_UNIX_SECONDS = 2**40


def setup_usage_routes(app: web.Application) -> None:
    app.router.add_get("/v1/usage", get_usage, name=ROUTE_PREFIX + "usage")
    app.router.add_get("/v1/usage/entries", list_entries, name=ROUTE_PREFIX + "usage.entries")


def _seconds(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_UNIX_SECONDS:
        raise InvalidRequest(f"{name} must be Unix seconds (a whole number from 0)", param=name)
    return float(value)


def _money(amount: Decimal | None) -> str | None:
    return amount_text(amount) if amount is not None else None


async def get_usage(request: web.Request) -> web.Response:
    token = authenticate(request)
    billing = dispatcher_of(request).billing
    since, until = _seconds(request, "since"), _seconds(request, "until")
    account = await billing.account(token.name)
    by_model = await billing.usage(token.name, since, until)
    body: dict[str, Any] = {
        "object": "usage",
        "currency": billing.currency,
        "quota": _money(billing.quota_of(token.name)),
        "balance": _money(account.balance),
        "held": _money(account.held),
        "spent": _money(sum((usage.amount for usage in by_model), Decimal(0))),
        "since": int(since) if since is not None else None,
        "until": int(until) if until is not None else None,
        "by_model": [
            {"model": usage.model, "tasks": usage.tasks, "seconds": usage.seconds, "amount": _money(usage.amount)}
            for usage in by_model
        ],
    }
    return json_response(body)


async def list_entries(request: web.Request) -> web.Response:
    token = authenticate(request)
    billing = dispatcher_of(request).billing
    try:
        limit = int(request.query.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("limit must be a whole number", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100", param="limit")
    after = request.query.get("after")
    before = None
    if after:
        number = after.removeprefix("entry_")
        # str.isdigit() takes "³", int() does not; an id past SQL's 64-bit integers names no entry.
        if not (number.isascii() and number.isdigit()) or int(number) >= 2**63:
            raise InvalidRequest("after must be an entry id", param="after")
        before = int(number)
    entries = await billing.entries(token.name, limit=limit + 1, before=before)
    page = entries[:limit]
    data = [
        {
            "id": entry.id,
            "object": "usage.entry",
            "kind": entry.kind,
            "amount": amount_text(entry.amount),
            "currency": entry.currency,
            "created_at": int(entry.created_at),
            "task_id": entry.task_id,
            "model": entry.model,
            "seconds": entry.seconds,
            "note": entry.note,
        }
        for entry in page
    ]
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(entries) > limit,
        }
    )
