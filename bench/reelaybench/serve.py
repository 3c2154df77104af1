"""``reelay serve`` with a measured what-if: uvloop.

``python -m reelaybench.serve --variant uvloop -- serve --config FILE``
applies the variant, then runs the ``reelay`` command unchanged. It is a
measurement of what switching would gain, not a supported mode. (orjson was
measured here too, paid for itself and is now what the gateway uses.)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

VARIANTS = frozenset({"uvloop"})


def apply(variants: set[str]) -> None:
    unknown = variants - VARIANTS
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(sorted(unknown))}")
    if "uvloop" in variants:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


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
