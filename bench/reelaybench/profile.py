"""py-spy profiles of the gateway under load, summarized as text."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from .procs import VENV_BIN


def py_spy() -> str | None:
    found = VENV_BIN / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def wrap(argv: list[str], out: Path, rate: int = 100) -> list[str]:
    """``argv`` run under py-spy, sampling it into a collapsed-stack file until it exits.

    (py-spy launches the process rather than attaching to it: attaching needs
    ptrace rights that containers often withhold.)
    """
    tool = py_spy()
    if tool is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    return [tool, "record", "-r", str(rate), "--threads", "--nonblocking", "-f", "raw", "-o", str(out), "--", *argv]


def _frame_name(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "module.py:function"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "core/", "plugins/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


def _area(frame_name: str) -> str:
    path = frame_name.split(":", 1)[0]
    if path.startswith("reelay/"):
        return "reelay." + path.removeprefix("reelay/").removesuffix(".py").replace("/", ".")
    top = path.split("/", 1)[0].removesuffix(".py")
    return top


def summarize(raw: Path, top: int = 12) -> str:
    """Where the gateway's event-loop thread spends its time, and how busy its other threads are.

    Start-up imports and the loop idling in ``select`` are counted apart, so
    the percentages are of the event loop's busy samples.
    """
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    other_threads: Counter[str] = Counter()
    busy = idle = imports = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        parts = stack.split(";")
        thread = parts[0].split(": ", 1)[-1] if parts[0].startswith("thread ") else "MainThread"
        frames = [_frame_name(frame) for frame in parts if "(" in frame and not frame.startswith("thread ")]
        if not frames:
            continue
        if thread != "MainThread":
            other_threads[thread.split(" ")[0].rstrip("0123456789-_")] += count
            continue
        if any("importlib._bootstrap" in frame for frame in frames):
            imports += count
            continue
        if frames[-1].endswith((".select", ":select")) or frames[-1].endswith("EpollSelector.select"):
            idle += count
            continue
        busy += count
        self_time[frames[-1]] += count
        areas[_area(frames[-1])] += count
        for name in set(frames):
            if name.startswith("reelay") or "reelay_" in name.split(":", 1)[0]:
                inclusive[name] += count
    if not busy:
        return "(no samples)"

    def pct(n: int) -> str:
        return f"{100 * n / busy:5.1f}%"

    lines = [
        f"event loop: {busy} busy samples, {idle} idle in select, {imports} in start-up imports;"
        " other threads: " + (", ".join(f"{name} {n}" for name, n in other_threads.most_common(4)) or "none"),
        "event loop self time by package:",
    ]
    lines += [f"  {pct(n)}  {name}" for name, n in areas.most_common(top)]
    lines.append("event loop self time by function:")
    lines += [f"  {pct(n)}  {name}" for name, n in self_time.most_common(top)]
    lines.append("event loop inclusive time of the gateway's and plugins' functions:")
    lines += [f"  {pct(n)}  {name}" for name, n in inclusive.most_common(top + 8)]
    return "\n".join(lines)
