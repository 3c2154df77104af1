"""Reelay's benchmarks: ``make bench`` (or ``.venv/bin/python bench/run.py [--quick]``).

Prints a table of medians and one summary line per case saying whether its
goal is met. See bench/README.md for the cases.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reelaybench.cases import CASES, FULL, QUICK, SMOKE, Bench


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("case", "measurement", "median", "runs")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(bench: Bench, seconds: float) -> str:
    out = [
        f"Reelay benchmarks, {bench.settings.name} run, {datetime.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, vendor emulator: {bench.vendor}"
        + (f", gateway variant: {bench.variant}" if bench.variant else ""),
        "",
        table(bench.rows),
        "",
    ]
    for label, summary in bench.profiles.items():
        out += [f"profile: {label}", summary, ""]
    out += [f"{v.summary}: {'MET' if v.met else 'NOT MET'}" for v in bench.verdicts]
    out.append(f"({seconds:.0f}s)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="shorter runs and smaller sizes (about 2 minutes)")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, seconds: checks the suite works")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--vendor", default="auto", help="emulated vendor (default: kling if installed, else acme)")
    parser.add_argument("--variant", default="", help="gateway what-ifs, comma-separated: uvloop")
    parser.add_argument("--profile", action="store_true", help="sample the gateway with py-spy under each load")
    parser.add_argument(
        "--keep-results",
        choices=("on", "off"),
        default="on",
        help="whether the poller case's gateway copies finished videos ([store] keep_results; default on)",
    )
    parser.add_argument("--workdir", help="keep logs, stores and profiles here (default: a temporary directory)")
    parser.add_argument("--output", help="also write the report to this file")
    args = parser.parse_args(argv)
    settings = SMOKE if args.smoke else QUICK if args.quick else FULL
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="reelay-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        bench = Bench(
            settings,
            workdir,
            vendor=args.vendor,
            variant=args.variant,
            profile=args.profile,
            keep_results=args.keep_results == "on",
        )
        started = time.perf_counter()
        for name in args.cases.split(","):
            CASES[name](bench)
        text = report(bench, time.perf_counter() - started)
    print()
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0 if all(v.met for v in bench.verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
