"""``reelay admin``: channel health, every token's tasks and reloads, over the admin API."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from . import ClientError
from .admin import AdminClient
from .options import base_url_option, json_option

_STATE_STYLES = {"closed": "green", "half_open": "yellow", "open": "red", "disabled": "red"}


_CHANNEL_COLUMNS = ("name", "vendor", "state", "consecutive_failures", "retry_in_seconds", "in_flight", "reason")
_TASK_COLUMNS = ("id", "token", "channel", "model", "status", "progress", "created_at")
_RELOAD_COLUMNS = ("tokens", "channels", "added", "changed", "draining", "restart_required")


def admin_options(columns: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--base-url``, ``--admin-key`` and ``--json``; passes an :class:`AdminClient`.

    The command returns the answer: printed as JSON, or as a table of ``columns``.
    """
    return functools.partial(_with_admin_options, columns=columns)


def _with_admin_options(command: Callable[..., Any], columns: tuple[str, ...]) -> Callable[..., Any]:
    @base_url_option
    @click.option("--admin-key", envvar="REELAY_ADMIN_KEY", default=None, help="The [admin] key (or REELAY_ADMIN_KEY).")
    @json_option
    @functools.wraps(command)
    def wrapper(base_url: str, admin_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        try:
            value = command(AdminClient(base_url, admin_key), **kwargs)
        except ClientError as error:
            if as_json:
                click.echo(json.dumps(error.body(), indent=2))
            else:
                Console(stderr=True, highlight=False).print(f"[red]Error:[/] {error}", markup=True)
            sys.exit(1)
        if as_json:
            click.echo(json.dumps(value, indent=2))
        else:
            Console(highlight=False, width=200).print(_table(value, columns))

    return wrapper


def _table(value: dict[str, Any], columns: tuple[str, ...]) -> Table | str:
    rows = value.get("data", [value])
    if not rows:
        return "None."
    table = Table(box=None)
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        cells = []
        for column in columns:
            cell = row.get(column)
            text = "" if cell is None else ", ".join(map(str, cell)) if isinstance(cell, list) else str(cell)
            style = _STATE_STYLES.get(text) if column == "state" else None
            cells.append(f"[{style}]{text}[/]" if style else text.replace("[", "\\["))
        table.add_row(*cells)
    return table


@click.group()
def admin() -> None:
    """Operate a running gateway over its admin API ([admin] key)."""


@admin.command("channels")
@click.option("--disable", "to_disable", default=None, metavar="NAME", help="Take this channel out of service.")
@click.option("--enable", "to_enable", default=None, metavar="NAME", help="Put this channel back in service.")
@admin_options(_CHANNEL_COLUMNS)
def channels(client: AdminClient, to_disable: str | None, to_enable: str | None) -> dict[str, Any]:
    """Each channel's health, breaker state and tasks in flight."""
    if to_disable:
        return client.disable(to_disable)
    if to_enable:
        return client.enable(to_enable)
    return client.channels()


@admin.command("tasks")
@click.option("--status", default=None, help="queued, in_progress, completed, failed or cancelled.")
@click.option("--channel", default=None, help="Only this channel's tasks.")
@click.option("--token", default=None, help="Only this token's tasks (its name).")
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--after", default=None, help="Start after this task id (the list's last_id).")
@admin_options(_TASK_COLUMNS)
def tasks(client: AdminClient, **filters: Any) -> dict[str, Any]:
    """Every token's tasks, newest first."""
    return client.tasks(**filters)


@admin.command("reload")
@admin_options(_RELOAD_COLUMNS)
def reload(client: AdminClient) -> dict[str, Any]:
    """Re-read the gateway's configuration file (as SIGHUP does); a file with problems changes nothing."""
    return client.reload()
