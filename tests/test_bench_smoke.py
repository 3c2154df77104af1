"""The benchmark suite at tiny sizes, so it never rots: every case runs, no goal is enforced."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from reelaybench.cases import CASES, SMOKE, Bench  # noqa: E402
from reelaybench.profile import summarize  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="the benchmarks need wrk")


def test_every_case_runs_at_smoke_size(tmp_path):
    bench = Bench(SMOKE, tmp_path, log=lambda line: None)
    for case in CASES.values():
        case(bench)
    # 4b: the poller with Kling's callbacks; 5: kept copy, relay
    assert [v.case for v in bench.verdicts] == ["1", "3", "2", "4", "4b", "5", "5", "6", "7", "8"]
    cases = {row[0] for row in bench.rows}
    assert cases == {
        "1/3 status read",
        "2 submission",
        "4 poller",
        "4b poller, callbacks",
        "5 content",
        "6 start-up",
        "7 metrics",
        "8 billing",
    }
    for case, what, median, _ in bench.rows:
        assert math.isfinite(float(median)) and float(median) >= 0, (case, what, median)
    polls = {what: float(median) for case, what, median, _ in bench.rows if case == "4 poller"}
    assert polls["upstream polls per task (mean)"] >= 1
    assert polls["tasks unfinished at the deadline"] == 0
    called_back = {what: float(median) for case, what, median, _ in bench.rows if case == "4b poller, callbacks"}
    assert called_back["tasks unfinished at the deadline with callbacks"] == 0
    assert called_back["tasks without a final callback"] == 0


def test_profile_summary_separates_idle_and_start_up(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "thread (1): MainThread;run (a.py:1);select (selectors.py:468) 5\n"
        "thread (1): MainThread;main (reelay/cli.py:9);_find_and_load (<frozen importlib._bootstrap>:1) 3\n"
        "thread (1): MainThread;main (reelay/cli.py:9);submit (reelay/dispatcher.py:20) 6\n"
        "thread (2): reelay-sqlite_0;_worker (concurrent/futures/thread.py:1) 4\n"
    )
    text = summarize(raw)
    assert "6 busy samples, 5 idle in select, 3 in start-up imports" in text
    assert "100.0%  reelay.dispatcher" in text
