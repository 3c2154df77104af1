"""The click options every client command shares (``reelay tasks ...``, ``reelay admin ...``)."""

from __future__ import annotations

import click

from . import DEFAULT_BASE_URL

#: ``--base-url`` (or ``$REELAY_BASE_URL``): the gateway's address.
base_url_option = click.option(
    "--base-url",
    envvar="REELAY_BASE_URL",
    default=DEFAULT_BASE_URL,
    show_default=True,
    help="The gateway's address (or REELAY_BASE_URL).",
)
#: ``--json``: the answer as JSON on stdout, for machines.
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
