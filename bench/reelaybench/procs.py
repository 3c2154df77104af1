"""Processes on loopback: start, wait until they answer, read their CPU and memory, stop."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent.parent
ROOT = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def bench_env() -> dict[str, str]:
    """The environment for bench scripts: this package importable, the test vendor too."""
    env = dict(os.environ)
    paths = [str(BENCH_DIR), str(ROOT / "tests" / "plugins"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class Proc:
    """A child process whose output goes to a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], logdir: Path, env: dict[str, str] | None = None, wrapped: bool = False
    ):
        self.name = name
        self.wrapped = wrapped  # argv is a wrapper (py-spy) whose only child is the process measured
        self.argv = list(argv)
        self.log_path = logdir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=env or bench_env(), cwd=str(ROOT)
        )

    @property
    def pid(self) -> int:
        """The measured process: the wrapper's child when wrapped."""
        if not self.wrapped:
            return self.popen.pid
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            try:
                children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
            except OSError:
                children = []
            if children:
                return int(children[0])
            time.sleep(0.01)
        raise RuntimeError(f"{self.name}: the wrapped process did not start")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def memory(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in bytes."""
        return rss_of(self.pid)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            if self.wrapped:
                with contextlib.suppress(OSError, RuntimeError):
                    os.kill(self.pid, signal.SIGINT)
            else:
                self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self._log.close()


def rss_of(pid: int) -> tuple[int, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def http_get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_http(proc: Proc, port: int, path: str = "/", timeout: float = 20.0, interval: float = 0.005) -> float:
    """Poll until ``path`` answers 200; returns seconds since the process started."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.tail()}")
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return time.perf_counter() - proc.started
        except OSError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{proc.name} did not answer {path} within {timeout}s:\n{proc.tail()}")


def read_port_line(proc: Proc, prefix: str = "listening ", timeout: float = 20.0) -> str:
    """The URL a bench script printed as ``listening <url>``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        time.sleep(0.02)
    raise RuntimeError(f"{proc.name} printed no address within {timeout}s:\n{proc.tail()}")


@contextlib.contextmanager
def running(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


class MemorySampler:
    """Samples a process's RSS in a thread while a block runs (peak during the block)."""

    def __init__(self, pid: int, interval: float = 0.02):
        import threading

        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.start_rss = rss_of(pid)[0]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_of(self.pid)[0])
            except OSError:
                return
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
