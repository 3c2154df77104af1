"""The ledger under SIGKILL: ``.venv/bin/python bench/faults.py --store sqlite|postgres [--tasks 300] [--seed N]``.

Real ``reelay serve`` processes (one on SQLite; two sharing a fresh
PostgreSQL schema) in front of the scripted acme emulator
(:mod:`reelaybench.scripted`), with prices and token quotas configured. A
client submits ``--tasks`` tasks with random outcomes (completed, failed,
cancelled by the client, timed out by the poller), each with an
``Idempotency-Key`` so a submission cut off by a kill is sent again safely,
while a killer SIGKILLs a random gateway ``--kills`` times at random moments
and restarts it. When every task has ended, the store itself is audited
(:mod:`reelaybench.audit`) and the figures printed; exit status 1 when the
ledger is not exact. See bench/README.md, "The ledger under SIGKILL".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from reelaybench.audit import Audit, audit, read_postgres, read_sqlite
from reelaybench.procs import HOST, PYTHON, Proc, free_port, read_port_line, wait_http

POSTGRES_URL = os.environ.get("REELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: The tokens: a roomy quota, and a tight one that runs out (and must never go below zero).
TOKENS = {"roomy": ("sk-fault-roomy-0123456789", "1000.00"), "tight": ("sk-fault-tight-0123456789", "3.00")}
OUTCOMES = ("completed", "failed", "cancelled", "timeout")


def write_config(
    path: Path, *, port: int, store_url: str, results: Path, emulator: str, timeout: float, log_level: str
) -> Path:
    tokens = "".join(
        f'[[tokens]]\nname = "{name}"\nkey = "{key}"\nquota = "{quota}"\n' for name, (key, quota) in TOKENS.items()
    )
    path.write_text(
        f"""[server]
host = "{HOST}"
port = {port}
[store]
url = "{store_url}"
results_dir = "{results}"
[poller]
min_interval = 0.3
max_interval = 1.0
timeout_seconds = {timeout}
lease_seconds = 2.0
[logging]
level = "{log_level}"
[billing]
currency = "USD"
[[prices]]
model = "acme-1"
per_second = "0.07"
per_request = "0.05"
sizes = {{ "1920x1080" = "0.14" }}
{tokens}[[channels]]
name = "acme-main"
vendor = "acme"
base_url = "{emulator}"
credentials = {{ api_key = "acme-test-key-123" }}
"""
    )
    return path


class Gateway:
    """One ``reelay serve`` process on a fixed port, killed and started again."""

    def __init__(self, name: str, config: Path, port: int, workdir: Path, grace: float):
        self.name, self.config, self.port, self.workdir, self.grace = name, config, port, workdir, grace
        self.starts = 0
        self.proc: Proc | None = None
        self.up = asyncio.Event()

    def argv(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "reelaybench.scripted",
            "gateway",
            "--config",
            str(self.config),
            "--grace",
            str(self.grace),
        ]

    async def start(self) -> None:
        self.starts += 1
        self.proc = Proc(f"{self.name}-{self.starts}", self.argv(), self.workdir)
        await asyncio.to_thread(wait_http, self.proc, self.port, "/healthz", 30.0)
        self.up.set()

    def kill(self) -> None:
        self.up.clear()
        assert self.proc is not None
        os.kill(self.proc.popen.pid, signal.SIGKILL)
        self.proc.popen.wait()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


class Client:
    """Submits and cancels through whichever gateway is up, retrying what a kill cut off."""

    def __init__(self, session: aiohttp.ClientSession, gateways: list[Gateway], rng: random.Random):
        self.session, self.gateways, self.rng = session, gateways, rng
        self.retries = Counter[str]()
        self.accepted: set[str] = set()  # the task ids the gateways answered

    async def call(
        self, method: str, path: str, key: str, json: dict | None = None, headers: dict | None = None
    ) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {key}", **(headers or {})}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            gateway = self.rng.choice([gateway for gateway in self.gateways if gateway.up.is_set()] or self.gateways)
            await gateway.up.wait()
            url = f"http://{HOST}:{gateway.port}{path}"
            try:
                async with self.session.request(method, url, headers=headers, json=json) as response:
                    body = await response.json(content_type=None)
                code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
                if code not in ("idempotency_key_in_flight", "store_unavailable"):
                    return response.status, body
                self.retries[code] += 1
            except (aiohttp.ClientError, TimeoutError):
                self.retries["cut off by a kill"] += 1
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{method} {path}: no answer within 60 s")

    async def one(self, index: int, start: float, seed: int) -> str:
        """Submit task ``index`` at ``start`` seconds in; the outcome the client asked for (or ``refused``)."""
        plan = random.Random(f"{seed}-{index}")  # the same plan for the same seed, whatever the interleaving
        await asyncio.sleep(start)
        outcome = plan.choice(OUTCOMES)
        token = plan.choices(list(TOKENS), weights=(4, 1))[0]
        # A cancel comes 0-2 s in, so some jobs asked to be cancelled finish first or meanwhile.
        seconds = {"completed": (0.2, 3.0), "failed": (0.2, 2.0), "cancelled": (0.5, 4.0)}.get(outcome, (1e6, 1e6))
        seconds = plan.uniform(*seconds)
        marker = "[emulate:fail]" if outcome == "failed" else ""
        body = {
            "model": "acme-1",
            "prompt": f"fault task {index} {marker}[fault:seconds={seconds:.2f}]",
            "duration": plan.choice((4, 6, 8)),
        }
        status, answer = await self.call(
            "POST",
            "/v1/video/generations",
            TOKENS[token][0],
            json=body,
            headers={"Idempotency-Key": f"fault-{seed}-{index}"},
        )
        if status == 429:
            return "refused"
        if status not in (200, 201, 202):
            raise RuntimeError(f"task {index}: {status} {answer}")
        self.accepted.add(answer["id"])
        if outcome == "cancelled":
            await asyncio.sleep(plan.uniform(0.0, 2.0))
            status, answer = await self.call("POST", f"/v1/videos/{answer['id']}/cancel", TOKENS[token][0])
            if status not in (200, 409):
                raise RuntimeError(f"cancel of task {index}: {status} {answer}")
        return outcome


async def killer(gateways: list[Gateway], kills: int, window: float, rng: random.Random, log) -> int:
    """SIGKILL a random gateway ``kills`` times within ``window`` seconds, restarting it each time."""
    moments = sorted(rng.uniform(0.5, window) for _ in range(kills))
    began = time.monotonic()
    for moment in moments:
        await asyncio.sleep(max(0.0, began + moment - time.monotonic()))
        gateway = rng.choice(gateways)
        await gateway.up.wait()
        gateway.kill()
        log(f"  {time.monotonic() - began:5.1f} s: SIGKILL {gateway.name}, restarting")
        await asyncio.sleep(rng.uniform(0.0, 0.5))
        await gateway.start()
    return len(moments)


def unfinished_sqlite(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM tasks WHERE status IN ('queued', 'in_progress')").fetchone()[0]


async def unfinished_postgres(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval("SELECT COUNT(*) FROM tasks WHERE status IN ('queued', 'in_progress')")
    finally:
        await connection.close()


async def run(args: argparse.Namespace, workdir: Path, log) -> Audit:
    rng = random.Random(args.seed)
    emulator = Proc("emulator", [PYTHON, "-m", "reelaybench.scripted", "emulator"], workdir)
    schema = None
    try:
        emulator_url = await asyncio.to_thread(read_port_line, emulator)
        if args.store == "sqlite":
            database = workdir / "reelay.db"
            store_url = f"sqlite:///{database}"
        else:
            import asyncpg

            schema = f"reelay_faults_{secrets.token_hex(4)}"
            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f"CREATE SCHEMA {schema}")
            await admin.close()
            store_url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}search_path={schema}"
        count = 1 if args.store == "sqlite" else 2
        gateways = []
        for number in range(1, count + 1):
            port = free_port()
            config = write_config(
                workdir / f"gateway-{number}.toml",
                port=port,
                store_url=store_url,
                results=workdir / "results",
                emulator=emulator_url,
                timeout=args.timeout,
                log_level=args.log_level,
            )
            gateways.append(Gateway(f"gateway-{number}", config, port, workdir, args.grace))
        await asyncio.gather(*(gateway.start() for gateway in gateways))
        window = args.tasks / args.rate
        log(
            f"{args.tasks} tasks over {window:.0f} s, {args.kills} kills, {args.store}, {count} gateway process(es),"
            f" seed {args.seed}"
        )
        began = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            client = Client(session, gateways, rng)
            starts = [rng.uniform(0, window) for _ in range(args.tasks)]
            asked, kills = await asyncio.gather(
                asyncio.gather(*(client.one(index, start, args.seed) for index, start in enumerate(starts))),
                killer(gateways, args.kills, window + 2, random.Random(f"{args.seed}-kills"), log),
            )
        log(f"submitted in {time.monotonic() - began:.1f} s; retries: {dict(client.retries) or 'none'}")
        log(f"outcomes asked for: {dict(sorted(Counter(asked).items()))}")
        deadline = time.monotonic() + args.timeout + args.grace + 30
        while True:
            if args.store == "sqlite":
                left = unfinished_sqlite(database)
            else:
                left = await unfinished_postgres(store_url)
            if left == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        log(f"every task ended {time.monotonic() - began:.1f} s after the start" if left == 0 else f"{left} unfinished")
        for gateway in gateways:
            gateway.stop()
        rows = read_sqlite(str(database)) if args.store == "sqlite" else await read_postgres(store_url)
        from reelay.config import load_config
        from reelay.engine.billing import Billing

        billing = Billing(load_config(gateways[0].config), None, time.time)  # type: ignore[arg-type]
        found = audit(rows, billing.price)
        found.kills = kills
        found.asked = Counter(asked)
        found.retries = client.retries
        stored = {row[0] for row in rows.tasks}
        for task_id in sorted(stored - client.accepted):
            found.problems.append(f"{task_id}: a task the client never got (a second submission of one request)")
        for task_id in sorted(client.accepted - stored):
            found.problems.append(f"{task_id}: accepted, then lost")
        return found
    finally:
        for gateway in locals().get("gateways", []):
            gateway.stop()
        emulator.stop()
        if schema is not None and not args.keep:
            import asyncpg

            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--kills", type=int, default=None, help="default: one per 30 tasks, at least 2")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=15.0, help="tasks submitted per second")
    parser.add_argument("--timeout", type=float, default=6.0, help="the poller's timeout_seconds")
    parser.add_argument(
        "--grace", type=float, default=3.0, help="seconds before an interrupted submission is recovered"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the configs, logs and store here")
    parser.add_argument("--log-level", default="warning", help="the gateways' logging level")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    args = parser.parse_args(argv)
    if args.kills is None:
        args.kills = max(2, args.tasks // 30)
    if args.seed is None:
        args.seed = random.randrange(1_000_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reelay-faults-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        found = asyncio.run(run(args, workdir, print))
    for line in found.lines():
        print(line)
    print("the ledger is exact" if found.ok else "THE LEDGER IS NOT EXACT")
    return 0 if found.ok else 1


if __name__ == "__main__":
    sys.exit(main())
