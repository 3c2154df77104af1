"""Load generators, separate from what they measure: wrk with a Lua script, and a download client.

``python -m reelaybench.load download --url URL --concurrency 8 --count 16``
downloads a URL repeatedly in its own process and prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs

WRK = shutil.which("wrk") or "/usr/bin/wrk"

_LUA = """
wrk.method = "{method}"
{headers}
wrk.body = {body}
local count = {count}
local prefix = "{prefix}"
local path = "{path}"
init = function(args)
  math.randomseed(os.time() + {seed})
end
request = function()
  if count > 0 then
    return wrk.format(nil, string.format("%s%019d", prefix, math.random(0, count - 1)))
  end
  return wrk.format(nil, path)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"errors":%d,"status_errors":%d,'
    .. '"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


@attrs.frozen
class Load:
    """What wrk sends: one path, or ``prefix`` + a random zero-padded number below ``count``."""

    method: str = "GET"
    path: str = "/"
    prefix: str = ""
    count: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None

    def script(self, seed: int = 0) -> str:
        headers = "\n".join(f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in self.headers)
        return _LUA.format(
            method=self.method,
            headers=headers,
            body=_lua_string(self.body) if self.body is not None else "nil",
            count=self.count,
            prefix=self.prefix,
            path=self.path,
            seed=seed,
        )


@attrs.frozen
class WrkResult:
    requests: int
    seconds: float
    errors: int
    status_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    base_url: str, load: Load, *, connections: int, seconds: float, workdir: Path, threads: int = 1
) -> WrkResult:
    """One bounded wrk run (``seconds`` long, 5 s socket timeout)."""
    script = workdir / f"load-{abs(hash(load)) % 10**8}.lua"
    script.write_text(load.script(seed=int(time.time() * 1000) % 100000))
    argv = [
        WRK,
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        base_url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data = json.loads(line[len("WRKJSON ") :])
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=data["errors"],
                status_errors=data["status_errors"],
                p50_ms=data["p50"] / 1000,
                p90_ms=data["p90"] / 1000,
                p99_ms=data["p99"] / 1000,
                mean_ms=data["mean"] / 1000,
                max_ms=data["max"] / 1000,
            )
    raise RuntimeError(f"wrk printed no summary (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


# ---------------------------------------------------------------- downloads


async def download(url: str, headers: dict[str, str], concurrency: int, count: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    remaining = {"n": count}
    totals = {"bytes": 0, "downloads": 0, "errors": 0}
    deadline = time.perf_counter() + seconds

    async def worker(http: aiohttp.ClientSession) -> None:
        while remaining["n"] > 0 and time.perf_counter() < deadline:
            remaining["n"] -= 1
            try:
                async with http.get(url, headers=headers) as response:
                    if response.status != 200:
                        totals["errors"] += 1
                        await response.read()
                        continue
                    async for chunk in response.content.iter_chunked(256 * 1024):
                        totals["bytes"] += len(chunk)
                totals["downloads"] += 1
            except aiohttp.ClientError:
                totals["errors"] += 1

    timeout = aiohttp.ClientTimeout(total=seconds + 30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        totals["seconds"] = time.perf_counter() - started
        totals["cpu_seconds"] = time.process_time() - cpu  # the transfers only, not start-up
    return totals


def run_downloads(url: str, headers: dict[str, str], *, concurrency: int, count: int, seconds: float) -> dict[str, Any]:
    """Downloads in a separate process (bounded by ``count`` and ``seconds``)."""
    from .procs import PYTHON, bench_env

    argv = [PYTHON, "-m", "reelaybench.load", "download", "--url", url, "--concurrency", str(concurrency)]
    argv += ["--count", str(count), "--seconds", str(seconds)]
    for key, value in headers.items():
        argv += ["--header", f"{key}: {value}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, env=bench_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"download client failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download")
    get.add_argument("--url", required=True)
    get.add_argument("--header", action="append", default=[])
    get.add_argument("--concurrency", type=int, default=1)
    get.add_argument("--count", type=int, default=4)
    get.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    result = asyncio.run(download(args.url, headers, args.concurrency, args.count, args.seconds))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
