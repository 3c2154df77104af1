"""``reelay serve`` with measured what-ifs: uvloop, orjson.

``python -m reelaybench.serve --variant uvloop,orjson -- serve --config FILE``
applies the variants, then runs the ``reelay`` command unchanged. The orjson
variant swaps the ``json`` module the core's modules use for a shim; it is a
measurement of what switching would gain, not a supported mode.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


class _OrjsonShim:
    """The slice of the ``json`` module the core uses, backed by orjson."""

    def __init__(self) -> None:
        import json

        import orjson

        self._orjson = orjson
        self.JSONDecodeError = json.JSONDecodeError

    def dumps(self, value: Any, **_: Any) -> str:
        return self._orjson.dumps(value).decode()

    def loads(self, text: str | bytes, **_: Any) -> Any:
        return self._orjson.loads(text)


def apply(variants: set[str]) -> None:
    unknown = variants - {"uvloop", "orjson"}
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")
    if "uvloop" in variants:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if "orjson" in variants:
        import reelay.http
        import reelay.server
        import reelay.store.codec

        shim = _OrjsonShim()
        for module in (reelay.server, reelay.http, reelay.store.codec):
            module.json = shim  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", default="")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    apply({v for v in args.variant.split(",") if v})
    from reelay.cli import cli

    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    cli.main(args=rest, prog_name="reelay")


if __name__ == "__main__":
    sys.exit(main())
