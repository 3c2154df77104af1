"""``reelay models``: what each model of a running gateway accepts and can do (its ``x_reelay``)."""

from __future__ import annotations

from typing import Any

import click

from .cli import Session, _escape, client_options


@click.command()
@click.argument("name", required=False)
@client_options
def models(session: Session, name: str | None) -> None:
    """The models the token can use (or one, by NAME): operations, durations, sizes, rules."""
    entries = [session.client.model(name)] if name else session.client.models()
    if session.as_json:
        session.emit_json(entries)
        return
    for entry in entries:
        for line in describe(entry):
            session.out.print(_escape(line))


def describe(entry: dict[str, Any]) -> list[str]:
    """Lines for one model entry, as ``reelay models`` prints them."""
    info = entry.get("x_reelay") or {}
    capabilities = info.get("capabilities", {})
    kinds = "/".join(kind for kind in ("text_to_video", "image_to_video") if capabilities.get(kind)) or "none"
    operations = info.get("operations", {})
    can = [name for name, value in operations.items() if value is True]
    lines = [f"{entry['id']} ({info.get('vendor', entry.get('owned_by'))}): {kinds}"]
    if info.get("description"):
        lines.append(f"  {info['description']}")
    lines.append(
        f"  durations {info.get('durations')} default {info.get('default_duration')}; "
        f"sizes {info.get('sizes')} default {info.get('default_size')}"
    )
    extension = operations.get("extension_seconds")
    lines.append(
        "  operations: " + (", ".join(can) or "none") + (f" (extensions of {extension} s)" if extension else "")
    )
    for kind, rules in (info.get("inputs") or {}).items():
        prompt = "prompt required" if rules.get("prompt_required") else "prompt optional"
        lines.append(f"  {kind} input: durations {rules.get('durations')}, sizes {rules.get('sizes')}, {prompt}")
    lines.extend(f"  {line}" for line in (info.get("precedence") or {}).get("summary", []))
    if "price_per_second" in info:
        price = info["price_per_second"]
        lines.append(f"  price: {price['amount']} {price['currency']} per second (+ {price['per_request']} a request)")
    return lines
