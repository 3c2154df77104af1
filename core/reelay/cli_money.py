"""The operators' money commands: ``reelay credit``, ``reelay usage`` and ``reelay migrate``."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import click

CONFIG = click.option(
    "--config",
    "config_path",
    envvar="REELAY_CONFIG",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML configuration file (or REELAY_CONFIG).",
)


def _run(config_path: str, work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Open the configured store (migrating it), credit configured quotas once, run ``work(config, billing)``."""
    from .config import ConfigError, load_config
    from .engine.billing import Billing
    from .store import StoreUnavailable, open_store

    try:
        config = load_config(config_path)
        store = open_store(config.store.url)
    except (ConfigError, ValueError, ImportError) as error:
        raise click.ClickException(str(error)) from None

    async def main() -> Any:
        await store.open()
        try:
            billing = Billing(config, store, time.time)
            await billing.apply_quotas()
            return await work(config, billing)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except StoreUnavailable as error:
        raise click.ClickException(error.message) from None


@click.command(context_settings={"ignore_unknown_options": True})  # AMOUNT may be negative: -2.50
@click.argument("token_name")
@click.argument("amount")
@click.option("--note", default=None, help="Why (kept with the entry).")
@CONFIG
def credit(token_name: str, amount: str, note: str | None, config_path: str) -> None:
    """Add AMOUNT of credit to a token (negative: a correction): a `credit` ledger entry."""
    from .config import parse_money
    from .models import amount_text

    try:
        value = parse_money(amount, negative=True)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="AMOUNT") from None

    async def work(config: Any, billing: Any) -> Any:
        if token_name not in {token.name for token in config.tokens}:
            raise click.ClickException(f"no token named {token_name!r} in {config_path}")
        await billing.credit(token_name, value, note)
        return await billing.account(token_name)

    account = _run(config_path, work)
    click.echo(f"{token_name}: credited {amount_text(value)}; balance {amount_text(account.balance)}")


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("a date (2025-01-31), a time (2025-01-31T12:00) or Unix seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


@click.command()
@click.option("--token", "token_name", default=None, help="Only this token.")
@click.option("--since", default=None, help="Spend settled since this date (UTC) or Unix time.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@CONFIG
def usage(token_name: str | None, since: str | None, as_json: bool, config_path: str) -> None:
    """Balances, holds and spend per token and model."""
    from .models import amount_text

    start = _since(since)

    async def work(config: Any, billing: Any) -> dict[str, Any]:
        names = [token.name for token in config.tokens if token_name in (None, token.name)]
        accounts = {account.token: account for account in await billing.accounts()}
        rows = await billing.usage(token_name, start, None)
        report = []
        for name in dict.fromkeys([*names, *(row.token for row in rows)]):
            account = accounts.get(name)
            quota = billing.quota_of(name)
            report.append(
                {
                    "token": name,
                    "currency": billing.currency,
                    "quota": amount_text(quota) if quota is not None else None,
                    "balance": amount_text(account.balance) if account else "0.00",
                    "held": amount_text(account.held) if account else "0.00",
                    "by_model": [
                        {"model": r.model, "tasks": r.tasks, "seconds": r.seconds, "amount": amount_text(r.amount)}
                        for r in rows
                        if r.token == name
                    ],
                }
            )
        return {"since": start, "tokens": report}

    report = _run(config_path, work)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Usage" + (f" since {since}" if since else ""))
    for column in ("token", "quota", "balance", "held", "model", "tasks", "seconds", "amount"):
        table.add_column(column, justify="left" if column in ("token", "model") else "right")
    for token in report["tokens"]:
        head = [token["token"], token["quota"] or "unlimited", token["balance"], token["held"]]
        for model in token["by_model"] or [{"model": "-", "tasks": 0, "seconds": 0, "amount": "0.00"}]:
            table.add_row(*head, model["model"], str(model["tasks"]), f"{model['seconds']:g}", model["amount"])
            head = ["", "", "", ""]
    Console().print(table)


@click.command()
@CONFIG
def migrate(config_path: str) -> None:
    """Bring the store's schema up to date (the gateway also does it when it starts)."""
    from .store.migrations import latest

    async def work(config: Any, billing: Any) -> None:
        return None

    _run(config_path, work)
    click.echo(f"store schema at version {latest()}")
