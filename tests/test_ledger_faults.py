"""The ledger under SIGKILL, at a small size: bench/faults.py against a real gateway on SQLite, killed twice."""

import subprocess
import sys
from pathlib import Path

import pytest

FAULTS = Path(__file__).resolve().parent.parent / "bench" / "faults.py"


@pytest.mark.slow
def test_every_hold_closes_once_while_the_gateway_is_killed(tmp_path):
    argv = [sys.executable, str(FAULTS), "--store", "sqlite", "--tasks", "30", "--kills", "2", "--seed", "7"]
    argv += ["--timeout", "4", "--workdir", str(tmp_path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    print(done.stdout)  # the figures: pytest -s shows them, a failure always
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "problems: 0" in done.stdout and "tasks in the store: 0" not in done.stdout
