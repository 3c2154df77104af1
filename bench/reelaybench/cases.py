"""The cases (1-8; 1 and 3 run together). Each starts its processes, measures the gateway and its baseline
alternately in the same run, and records medians and one verdict per goal."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from reelay.models import TaskStatus

from . import fixtures, profile
from .load import Load, WrkResult, run_downloads, run_wrk
from .procs import PYTHON, ROOT, VENV_BIN, MemorySampler, Proc, free_port, http_get, read_port_line, wait_http

MB = 1024 * 1024


@attrs.frozen
class Settings:
    """How big and how long: ``full`` is the documented run, ``quick`` and ``smoke`` shrink it."""

    name: str
    runs: int
    wrk_seconds: float
    warmup_seconds: float
    connections: int
    scale_small: int
    scale_big: int
    poller_tasks: int
    poller_spread: float
    poller_typical: float
    poller_done_after: float
    poller_min_interval: float
    video_mb: float
    downloads_per_run: int
    startup_runs: int
    poller_lead: float = 3.0
    #: case 4b's tasks (with vendor callbacks), over the same spread as case 4's
    poller_callback_tasks: int = 2_000


# Case 4b's full run has 4,000 tasks, not case 4's 10,000: at 250 tasks a second (500 callbacks)
# the emulator, on the same 2 cores, sent its callbacks 0.57 s late (p99) and the lag measured it.
FULL = Settings(
    "full", 3, 5.0, 1.0, 64, 1_000, 1_000_000, 10_000, 40.0, 20.0, 12.0, 1.0, 20.0, 6, 5, poller_callback_tasks=4_000
)
QUICK = Settings("quick", 3, 2.0, 1.0, 64, 1_000, 100_000, 2_000, 10.0, 10.0, 6.0, 1.0, 20.0, 3, 3)
SMOKE = Settings(
    "smoke", 1, 1.0, 0.0, 1, 50, 500, 40, 0.3, 3.0, 0.6, 0.3, 1.0, 2, 1, poller_lead=0.8, poller_callback_tasks=20
)


@attrs.define
class Verdict:
    case: str
    summary: str
    met: bool


@attrs.define
class Bench:
    """One benchmark run: settings, a work directory, the processes, the results."""

    settings: Settings
    workdir: Path
    vendor: str = "auto"
    variant: str = ""
    profile: bool = False
    #: the poller case's gateway copies finished videos (the default), or not
    keep_results: bool = True
    rows: list[tuple[str, str, str, str]] = attrs.field(factory=list)
    verdicts: list[Verdict] = attrs.field(factory=list)
    profiles: dict[str, str] = attrs.field(factory=dict)
    facts: dict[str, Any] = attrs.field(factory=dict)
    log: Callable[[str], None] = print

    def __attrs_post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.vendor == "auto":
            self.vendor = "kling" if "kling" in fixtures.emulator_specs() else "acme"
        self.facts["vendor"] = self.vendor

    # ------------------------------------------------------------ processes

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def gateway_argv(self, config: Path) -> list[str]:
        if self.variant:
            wrapper = [PYTHON, "-m", "reelaybench.serve", "--variant", self.variant, "--"]
            return [*wrapper, "serve", "--config", str(config)]
        return [str(VENV_BIN / "reelay"), "serve", "--config", str(config)]

    def start_gateway(
        self, stack: contextlib.ExitStack, name: str, config: Path, port: int, profile_as: str = ""
    ) -> Proc:
        """The gateway; with ``--profile`` and a label, run under py-spy for its whole life."""
        argv = self.gateway_argv(config)
        wrapped = bool(self.profile and profile_as and profile.py_spy())
        if wrapped:
            out = self.workdir / f"profile-{profile_as}.txt"
            stack.callback(self._summarize, profile_as, out)
            argv = profile.wrap(argv, out)
        proc = stack.enter_context(_stopping(Proc(name, argv, self.workdir, wrapped=wrapped)))
        wait_http(proc, port, "/healthz")
        return proc

    def _summarize(self, label: str, out: Path) -> None:
        self.profiles[label] = profile.summarize(out) if out.exists() else "py-spy wrote nothing"

    def start_emulator(
        self, stack: contextlib.ExitStack, name: str, *, generation_seconds: float = 0.0, video_mb: float = 0.0
    ) -> str:
        return self.start_emulator_proc(stack, name, generation_seconds=generation_seconds, video_mb=video_mb)[0]

    def start_emulator_proc(
        self, stack: contextlib.ExitStack, name: str, *, generation_seconds: float = 0.0, video_mb: float = 0.0
    ) -> tuple[str, Proc]:
        """The emulator's base URL and its process."""
        argv = [PYTHON, "-m", "reelaybench.emulator", "--vendor", self.vendor]
        argv += ["--generation-seconds", str(generation_seconds), "--video-mb", str(video_mb)]
        proc = stack.enter_context(_stopping(Proc(name, argv, self.workdir)))
        return read_port_line(proc), proc

    def start_baseline(self, stack: contextlib.ExitStack, name: str, args: list[str]) -> tuple[int, Proc]:
        port = free_port()
        argv = [PYTHON, "-m", "reelaybench.baseline", *args, "--port", str(port)]
        proc = stack.enter_context(_stopping(Proc(name, argv, self.workdir)))
        _wait_listening(proc, port)
        return port, proc

    def spec(self):
        pm = fixtures.plugin_manager_for(self.vendor)
        return fixtures.emulator_specs(pm)[self.vendor]

    # ------------------------------------------------------------ recording

    def row(self, case: str, what: str, median: str, samples: str = "") -> None:
        self.rows.append((case, what, median, samples))

    def verdict(self, case: str, summary: str, met: bool) -> None:
        self.verdicts.append(Verdict(case, summary, met))
        self.log(f"  -> {summary}: {'MET' if met else 'NOT MET'}")

    def wrk_cpu(self, url: str, load: Load, connections: int, proc: Proc, into: list[float] | None) -> WrkResult:
        """:meth:`wrk`, adding the server's CPU per request (us, its own process: steadier than rps on a
        shared machine) to ``into`` when given."""
        before = proc.cpu_seconds()
        result = self.wrk(url, load, connections)
        if into is not None and result.requests:
            into.append((proc.cpu_seconds() - before) / result.requests * 1e6)
        return result

    def wrk(self, url: str, load: Load, connections: int, seconds: float | None = None) -> WrkResult:
        return run_wrk(
            url, load, connections=connections, seconds=seconds or self.settings.wrk_seconds, workdir=self.workdir
        )


@contextlib.contextmanager
def _stopping(proc: Proc) -> Iterator[Proc]:
    try:
        yield proc
    finally:
        proc.stop()


def _wait_listening(proc: Proc, port: int, timeout: float = 20.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            http_get(port, "/", timeout=1)
            return
        except OSError:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}") from None
            time.sleep(0.01)
    raise RuntimeError(f"{proc.name} did not listen:\n{proc.tail()}")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _samples(values: list[float], fmt: str = "{:.0f}") -> str:
    return " ".join(fmt.format(v) for v in values)


def _auth() -> tuple[tuple[str, str], ...]:
    return (("Authorization", f"Bearer {fixtures.TOKEN}"),)


def _alternate(runs: int, targets: list[tuple[str, Callable[[], Any]]]) -> dict[str, list[Any]]:
    """Each target ``runs`` times, interleaved and rotated so drift hits all alike."""
    results: dict[str, list[Any]] = {name: [] for name, _ in targets}
    for run in range(runs):
        order = targets[run % len(targets) :] + targets[: run % len(targets)]
        for name, measure in order:
            results[name].append(measure())
    return results


def _check(results: list[WrkResult], what: str) -> None:
    bad = sum(r.errors + r.status_errors for r in results)
    if bad:
        raise RuntimeError(f"{what}: {bad} failed requests under load")


# ---------------------------------------------------------------- cases 1 and 3: status reads


def _completed_tasks(b: Bench) -> tuple[dict[str, Any], Any]:
    """The channel table and the completed task the status-read cases fill their stores with
    (the channel's vendor is never called: its address is a closed port)."""
    spec = b.spec()
    harness_model = fixtures.text_model(fixtures.Registry.collect(fixtures.plugin_manager_for(b.vendor)), b.vendor)
    channel = fixtures.channel_table(spec, "http://127.0.0.1:9")
    return channel, fixtures.completed_template(channel["name"], harness_model.name, spec.vendor)


def case_status(b: Bench) -> None:
    """Case 1 (status read against a bare handler) and case 3 (the same at two store sizes)."""
    s = b.settings
    b.log(f"case 1+3: status read, store of {s.scale_small:,} and {s.scale_big:,} tasks")
    channel, template = _completed_tasks(b)
    stores = {}
    for label, count in (("small", s.scale_small), ("big", s.scale_big)):
        db = b.dir(f"status-{label}") / "reelay.db"
        started = time.perf_counter()
        fixtures.fill_store(db, template=template, count=count)
        elapsed = time.perf_counter() - started
        b.log(f"  filled {count:,} rows in {elapsed:.1f}s")
        stores[label] = (db, count)
    b.facts["fill_rows_per_second"] = round(s.scale_big / max(elapsed, 1e-9))
    with contextlib.ExitStack() as stack:
        ports, procs = {}, {}
        for label, (db, _) in stores.items():
            ports[label] = free_port()
            config = fixtures.write_config(db.parent / "reelay.toml", port=ports[label], store=db, channels=[channel])
            procs[label] = b.start_gateway(
                stack, f"gateway-status-{label}", config, ports[label], "status-read" if label == "big" else ""
            )
        status, body = http_get(
            ports["small"], f"/v1/videos/{fixtures.task_id(0)}", {"Authorization": f"Bearer {fixtures.TOKEN}"}
        )
        if status != 200:
            raise RuntimeError(f"status read answered {status}: {body[:300]!r}")
        body_file = b.workdir / "status-body.json"
        body_file.write_bytes(body)
        b.facts["status_body_bytes"] = len(body)
        base_port, _ = b.start_baseline(stack, "baseline-status", ["status", "--body", str(body_file)])
        prefix = "/v1/videos/" + fixtures.ID_PREFIX
        loads = {
            "baseline": (base_port, Load(prefix=prefix, count=s.scale_small, headers=_auth())),
            "small": (ports["small"], Load(prefix=prefix, count=s.scale_small, headers=_auth())),
            "big": (ports["big"], Load(prefix=prefix, count=s.scale_big, headers=_auth())),
        }

        def measure(label: str) -> Callable[[], WrkResult]:
            port, load = loads[label]
            return lambda: b.wrk(f"http://127.0.0.1:{port}", load, s.connections)

        if s.warmup_seconds:
            for label in loads:
                b.wrk(f"http://127.0.0.1:{loads[label][0]}", loads[label][1], s.connections, s.warmup_seconds)
        results = _alternate(s.runs, [(label, measure(label)) for label in loads])
        for label, runs in results.items():
            _check(runs, f"status read ({label})")

    names = {
        "baseline": "bare aiohttp JSON handler",
        "small": f"gateway, {s.scale_small:,} tasks",
        "big": f"gateway, {s.scale_big:,} tasks",
    }
    med = {}
    for label, runs in results.items():
        rps = [r.rps for r in runs]
        p99 = [r.p99_ms for r in runs]
        med[label] = (_median(rps), _median(p99), _median([r.p50_ms for r in runs]))
        b.row("1/3 status read", f"{names[label]} rps @{s.connections}", f"{med[label][0]:.0f}", _samples(rps))
        b.row("1/3 status read", f"{names[label]} p99 ms", f"{med[label][1]:.2f}", _samples(p99, "{:.2f}"))
    rps_ratio = med["small"][0] / med["baseline"][0]
    p99_ratio = med["small"][1] / med["baseline"][1]
    b.verdict(
        "1",
        f"case 1 status read: {rps_ratio:.2f}x the bare handler's rps (goal >= 0.50), "
        f"p99 {p99_ratio:.2f}x (goal <= 2.00)",
        rps_ratio >= 0.5 and p99_ratio <= 2.0,
    )
    scale_ratio = med["big"][0] / med["small"][0]
    b.verdict(
        "3",
        f"case 3 store scale: rps at {s.scale_big:,} tasks is {scale_ratio:.2f}x that at {s.scale_small:,} "
        "(goal >= 0.80)",
        scale_ratio >= 0.8,
    )


# ---------------------------------------------------------------- case 7: metrics on against off


def case_metrics(b: Bench) -> None:
    """Case 7: status reads with ``[metrics] enabled`` against the same gateway without metrics."""
    s = b.settings
    b.log(f"case 7: status read with metrics on and off, {s.scale_small:,} tasks")
    channel, template = _completed_tasks(b)
    with contextlib.ExitStack() as stack:
        loads = {}
        for label, enabled in (("on", True), ("off", False)):
            db = b.dir(f"metrics-{label}") / "reelay.db"
            fixtures.fill_store(db, template=template, count=s.scale_small)
            port = free_port()
            config = fixtures.write_config(
                db.parent / "reelay.toml", port=port, store=db, channels=[channel], metrics=enabled
            )
            gateway = b.start_gateway(stack, f"gateway-metrics-{label}", config, port, f"metrics-{label}")
            load = Load(prefix="/v1/videos/" + fixtures.ID_PREFIX, count=s.scale_small, headers=_auth())
            loads[label] = (port, load, gateway)
        status, body = http_get(loads["on"][0], "/metrics", {})
        if status != 200 or b"reelay_http_requests_total" not in body:
            raise RuntimeError(f"/metrics answered {status}: {body[:300]!r}")

        cpu_us: dict[str, list[float]] = {label: [] for label in loads}

        def measure(label: str) -> Callable[[], WrkResult]:
            port, load, gateway = loads[label]
            return lambda: b.wrk_cpu(f"http://127.0.0.1:{port}", load, s.connections, gateway, cpu_us[label])

        if s.warmup_seconds:
            for port, load, _ in loads.values():
                b.wrk(f"http://127.0.0.1:{port}", load, s.connections, s.warmup_seconds)
        results = _alternate(s.runs, [(label, measure(label)) for label in loads])
        for label, runs in results.items():
            _check(runs, f"status read, metrics {label}")
    med = {}
    for label, runs in results.items():
        rps = [r.rps for r in runs]
        med[label] = _median(rps)
        b.row("7 metrics", f"status read, metrics {label} rps @{s.connections}", f"{med[label]:.0f}", _samples(rps))
        cpu = cpu_us[label]
        b.row(
            "7 metrics",
            f"status read, metrics {label} CPU us per request",
            f"{_median(cpu):.1f}",
            _samples(cpu, "{:.1f}"),
        )
    ratio = med["on"] / med["off"]
    b.verdict("7", f"case 7 metrics: status reads with metrics at {ratio:.2f}x without (goal >= 0.90)", ratio >= 0.9)


# ---------------------------------------------------------------- case 2: submissions


def case_submit(b: Bench) -> None:
    s = b.settings
    b.log("case 2: submission, gateway vs bare handler making the same upstream call")
    spec = b.spec()
    work = b.dir("submit")
    with contextlib.ExitStack() as stack:
        emulator = b.start_emulator(stack, "emulator-submit", generation_seconds=3600)
        port = free_port()
        config = fixtures.write_config(
            work / "reelay.toml", port=port, store=work / "reelay.db", channels=[fixtures.channel_table(spec, emulator)]
        )
        gateway = b.start_gateway(stack, "gateway-submit", config, port, "submission")
        harness = fixtures.VendorHarness.from_config(config, b.vendor)
        body = json.dumps(harness.request_body())
        headers = (*_auth(), ("Content-Type", "application/json"))
        load = Load(method="POST", path="/v1/video/generations", headers=headers, body=body)
        status, answer = _post(port, load.path, body.encode(), dict(headers))
        if status != 200:
            raise RuntimeError(f"a submission answered {status}: {answer[:300]!r}\n{gateway.tail()}")
        emulator_port = int(emulator.rsplit(":", 1)[1])
        _, recorded = http_get(emulator_port, "/_bench/last")
        call = work / "upstream-call.json"
        call.write_bytes(recorded)
        base_port, baseline = b.start_baseline(
            stack, "baseline-submit", ["submit", "--upstream", emulator, "--call", str(call)]
        )
        targets = {"baseline": (base_port, baseline), "gateway": (port, gateway)}
        results: dict[int, dict[str, list[WrkResult]]] = {}
        cpu_us: dict[str, list[float]] = {label: [] for label in targets}

        def measure(label: str, connections: int) -> WrkResult:
            target, proc = targets[label]
            into = cpu_us[label] if connections == s.connections else None
            return b.wrk_cpu(f"http://127.0.0.1:{target}", load, connections, proc, into)

        for connections in dict.fromkeys((s.connections, 1)):
            if s.warmup_seconds:
                for target, _ in targets.values():
                    b.wrk(f"http://127.0.0.1:{target}", load, connections, s.warmup_seconds)
            results[connections] = _alternate(
                s.runs,
                [(label, (lambda name=label, c=connections: measure(name, c))) for label in targets],
            )
            for label, runs in results[connections].items():
                _check(runs, f"submission ({label}, {connections} connections)")

    med: dict[tuple[int, str], tuple[float, float, float]] = {}
    for connections, by_label in results.items():
        for label, runs in by_label.items():
            rps, p50, p99 = [r.rps for r in runs], [r.p50_ms for r in runs], [r.p99_ms for r in runs]
            med[connections, label] = (_median(rps), _median(p50), _median(p99))
            name = "bare handler + same upstream call" if label == "baseline" else "gateway"
            b.row("2 submission", f"{name} rps @{connections}", f"{_median(rps):.0f}", _samples(rps))
            b.row("2 submission", f"{name} p50 ms @{connections}", f"{_median(p50):.2f}", _samples(p50, "{:.2f}"))
            b.row("2 submission", f"{name} p99 ms @{connections}", f"{_median(p99):.2f}", _samples(p99, "{:.2f}"))
    for label, values in cpu_us.items():
        name = "bare handler + same upstream call" if label == "baseline" else "gateway"
        b.row("2 submission", f"{name} CPU us per request @{s.connections}", f"{_median(values):.0f}", _samples(values))
    c = s.connections
    ratio = med[c, "gateway"][0] / med[c, "baseline"][0]
    added_p50 = med[1, "gateway"][1] - med[1, "baseline"][1]
    p99 = med[1, "gateway"][2]
    b.verdict(
        "2",
        f"case 2 submission: {ratio:.2f}x the baseline's throughput @{c} (goal >= 0.60); @1: "
        f"+{added_p50:.2f} ms p50 (goal <= 1.00), p99 {p99:.2f} ms (goal < 5.00)",
        ratio >= 0.6 and added_p50 <= 1.0 and p99 < 5.0,
    )


# ---------------------------------------------------------------- case 8: billing on against off


#: The bench model's price with billing on, and a token credit no run spends (issue 20).
BILLING_PRICE = "0.07"
BILLING_QUOTA = "1000000"


def case_billing(b: Bench) -> None:
    """Case 8: case 2's submissions against a gateway pricing the model (hold at submission,
    a token with a quota) and the same gateway without prices or quota, alternated."""
    s = b.settings
    b.log(f"case 8: submission with billing on and off, {s.connections} connections")
    spec = b.spec()
    with contextlib.ExitStack() as stack:
        emulator = b.start_emulator(stack, "emulator-billing", generation_seconds=3600)
        channel = fixtures.channel_table(spec, emulator)
        model = fixtures.text_model(fixtures.Registry.collect(fixtures.plugin_manager_for(b.vendor)), b.vendor).name
        targets: dict[str, tuple[int, Proc]] = {}
        for label, on in (("on", True), ("off", False)):
            work = b.dir(f"billing-{label}")
            port = free_port()
            config = fixtures.write_config(
                work / "reelay.toml",
                port=port,
                store=work / "reelay.db",
                channels=[channel],
                prices=[{"model": model, "per_second": BILLING_PRICE}] if on else (),
                quota=BILLING_QUOTA if on else None,
            )
            targets[label] = (
                port,
                b.start_gateway(stack, f"gateway-billing-{label}", config, port, f"billing-{label}"),
            )
        harness = fixtures.VendorHarness.from_config(config, b.vendor)
        body = json.dumps(harness.request_body())
        headers = (*_auth(), ("Content-Type", "application/json"))
        load = Load(method="POST", path="/v1/video/generations", headers=headers, body=body)
        for label, (port, proc) in targets.items():
            status, answer = _post(port, load.path, body.encode(), dict(headers))
            if status != 200:
                raise RuntimeError(f"a submission (billing {label}) answered {status}: {answer[:300]!r}\n{proc.tail()}")
            cost = json.loads(answer).get("cost")
            if (label == "on") != (cost is not None and cost.get("state") == "held"):
                raise RuntimeError(f"billing {label}: the task's cost is {cost!r}")
        cpu_us: dict[str, list[float]] = {label: [] for label in targets}

        def measure(label: str) -> WrkResult:
            port, proc = targets[label]
            return b.wrk_cpu(f"http://127.0.0.1:{port}", load, s.connections, proc, cpu_us[label])

        if s.warmup_seconds:
            for port, _ in targets.values():
                b.wrk(f"http://127.0.0.1:{port}", load, s.connections, s.warmup_seconds)
        results = _alternate(s.runs, [(label, (lambda name=label: measure(name))) for label in targets])
        for label, runs in results.items():
            _check(runs, f"submission, billing {label}")
    med = {}
    for label, runs in results.items():
        rps, p99 = [r.rps for r in runs], [r.p99_ms for r in runs]
        med[label] = _median(rps)
        b.row("8 billing", f"submission, billing {label} rps @{s.connections}", f"{med[label]:.0f}", _samples(rps))
        b.row("8 billing", f"submission, billing {label} p99 ms", f"{_median(p99):.2f}", _samples(p99, "{:.2f}"))
        b.row(
            "8 billing",
            f"submission, billing {label} CPU us per request",
            f"{_median(cpu_us[label]):.0f}",
            _samples(cpu_us[label]),
        )
    ratio = med["on"] / med["off"]
    b.verdict(
        "8",
        f"case 8 billing: submissions with billing on (price held, token quota) at {ratio:.2f}x without "
        f"@{s.connections} (goal >= 0.85)",
        ratio >= 0.85,
    )


# ---------------------------------------------------------------- case 4: the poller


def case_poller(b: Bench) -> None:
    """Case 4 (the poller against the schedule's minimum) and, for a vendor that calls back, case 4b (the
    same with vendor callbacks), their runs alternated in the same bench run."""
    s = b.settings
    b.log(f"case 4: poller, {s.poller_tasks:,} unfinished tasks, each done {s.poller_done_after}s after it starts")
    sides = [("polled", False)]
    if fixtures.calls_back(b.vendor):
        b.log(f"case 4b: the same with vendor callbacks, {s.poller_callback_tasks:,} tasks")
        sides.append(("called back", True))
    else:
        b.log(f"case 4b skipped: vendor {b.vendor} does not call back (its VendorSpec has no callbacks)")
    targets = [(name, _poller_runs(b, flag)) for name, flag in sides]
    results = _alternate(s.runs, targets)
    _poller_report(b, results["polled"])
    if "called back" in results:
        _callback_report(b, results["called back"], results["polled"])


def _poller_runs(b: Bench, callbacks: bool) -> Callable[[], dict[str, float]]:
    """One side's next run, numbered apart from the other side's."""
    numbers = itertools.count()
    return lambda: _poller_run(b, next(numbers), callbacks=callbacks)


#: Case 4's rows: what, the key of a run's result, its format.
POLLER_ROWS = (
    ("upstream polls per task (mean)", "polls", "{:.2f}"),
    ("schedule's minimum polls per task (mean)", "minimum", "{:.2f}"),
    ("gateway CPU ms per poll", "cpu_ms", "{:.3f}"),
    ("emulator CPU ms per poll (not the gateway's)", "emulator_cpu_ms", "{:.3f}"),
    ("gateway peak RSS MB", "rss_mb", "{:.0f}"),
    ("completion lag p50 s", "lag_p50", "{:.2f}"),
    ("completion lag p99 s", "lag_p99", "{:.2f}"),
    ("completion lag max s", "lag_max", "{:.2f}"),
    ("poll interval at completion s", "interval", "{:.2f}"),
    ("tasks unfinished at the deadline", "remaining", "{:.0f}"),
)
#: Case 4b's.
CALLBACK_ROWS = (
    ("upstream polls per task with callbacks (mean)", "polls", "{:.2f}"),
    ("completion lag after the callback p50 s", "callback_lag_p50", "{:.3f}"),
    ("completion lag after the callback p99 s", "callback_lag_p99", "{:.3f}"),
    ("completion lag after the callback max s", "callback_lag_max", "{:.3f}"),
    ("callback sent after the job ended p99 s (emulator)", "sent_p99", "{:.3f}"),
    ("completion lag with callbacks p99 s", "lag_p99", "{:.2f}"),
    ("gateway CPU ms per task with callbacks", "cpu_ms_per_task", "{:.3f}"),
    ("gateway peak RSS MB with callbacks", "rss_mb", "{:.0f}"),
    ("tasks without a final callback", "uncalled", "{:.0f}"),
    ("tasks unfinished at the deadline with callbacks", "remaining", "{:.0f}"),
)
#: How soon after the vendor's callback its task must be seen completed (issue 18), in seconds.
CALLBACK_LAG_GOAL = 0.2


def _put_rows(b: Bench, case: str, runs: list[dict[str, float]], rows: tuple[tuple[str, str, str], ...]) -> None:
    for what, key, fmt in rows:
        column = [run[key] for run in runs]
        b.row(case, what, fmt.format(_median(column)), _samples(column, fmt))


def _median_of(runs: list[dict[str, float]], key: str) -> float:
    return _median([run[key] for run in runs])


def _poller_report(b: Bench, runs: list[dict[str, float]]) -> None:
    keeping = "keeping results" if b.keep_results else "not keeping results"
    _put_rows(b, "4 poller", runs, POLLER_ROWS)
    ratio = _median_of(runs, "polls") / _median_of(runs, "minimum")
    rss, lag, interval = (_median_of(runs, key) for key in ("rss_mb", "lag_p99", "interval"))
    b.verdict(
        "4",
        f"case 4 poller ({keeping}): {ratio:.2f}x the schedule's minimum polls (goal <= 1.20), peak RSS {rss:.0f} MB "
        f"(goal < 200), completion visible p99 {lag:.2f}s after the vendor's (goal <= one interval, {interval:.2f}s)",
        ratio <= 1.2 and rss < 200 and lag <= interval and max(run["remaining"] for run in runs) == 0,
    )


def _callback_report(b: Bench, runs: list[dict[str, float]], polled: list[dict[str, float]]) -> None:
    s = b.settings
    _put_rows(b, "4b poller, callbacks", runs, CALLBACK_ROWS)
    polls, without, lag = _median_of(runs, "polls"), _median_of(polled, "polls"), _median_of(runs, "callback_lag_p99")
    complete = max(run["remaining"] + run["uncalled"] for run in runs) == 0
    b.verdict(
        "4b",
        f"case 4b poller with vendor callbacks ({s.poller_callback_tasks:,} tasks; {s.poller_tasks:,} without): "
        f"completion visible p99 {lag:.3f}s after the callback (goal <= {CALLBACK_LAG_GOAL:.2f}s), "
        f"{polls:.2f} upstream polls per task against {without:.2f} without (goal: fewer)",
        lag <= CALLBACK_LAG_GOAL and polls < without and complete,
    )


def _poller_run(b: Bench, run: int, *, callbacks: bool = False) -> dict[str, float]:
    """One gateway polling unfinished tasks until all are done; with ``callbacks``, the emulator calls back too."""
    s = b.settings
    count = s.poller_callback_tasks if callbacks else s.poller_tasks
    spec = b.spec()
    work = b.dir(f"poller-callbacks-{run}" if callbacks else f"poller-{run}")
    side = " with callbacks" if callbacks else ""
    poller = {"enabled": True, "min_interval": s.poller_min_interval, "max_interval": 30.0, "lease_seconds": 60.0}
    with contextlib.ExitStack() as stack:
        emulator, emulator_proc = b.start_emulator_proc(stack, "emulator-poller", generation_seconds=3600)
        emulator_port = int(emulator.rsplit(":", 1)[1])
        port = free_port()
        db = work / "reelay.db"
        # A store left in --workdir by an earlier run goes: with callbacks, the harness writes tokens into
        # the store before fill_store adds the tasks (fresh=False), so nothing else may be in it.
        for stale in work.glob("reelay.db*"):
            stale.unlink()
        channel = fixtures.channel_table(spec, emulator, typical_seconds=s.poller_typical)
        config = fixtures.write_config(
            work / "reelay.toml",
            port=port,
            store=db,
            channels=[channel],
            poller=poller,
            keep_results=b.keep_results,
            public_url=f"http://127.0.0.1:{port}" if callbacks else None,
        )
        harness = fixtures.VendorHarness.from_config(config, b.vendor)
        started = time.perf_counter()
        made = asyncio.run(harness.submit_jobs(count, callbacks=callbacks))
        made_in = time.perf_counter() - started
        b.log(f"  run {run + 1}{side}: made {count:,} vendor jobs through the plugin in {made_in:.1f}s")
        # Every task starts in the future, so the gateway is up before the first poll is due.
        # The emulator's callbacks, waiting since submission, follow the new times.
        start = time.time() + s.poller_lead
        retime = {"ids": [ref.id for _, ref in made], "start": start, "spread": s.poller_spread}
        retimed = _post_json(emulator_port, "/_bench/retime", {**retime, "duration": s.poller_done_after})["created"]
        first_delay = harness.dispatcher.first_poll_delay(harness.model, harness.channel)
        for task, ref in made:
            task.created_at = task.updated_at = retimed[ref.id]
            task.next_poll_at = task.created_at + first_delay
        fixtures.fill_store(db, [task for task, _ in made], fresh=not callbacks)
        label = ("poller-callbacks" if callbacks else "poller") if run == 0 else ""
        gateway = b.start_gateway(stack, "gateway-poller", config, port, label)
        cpu_before, emulator_cpu_before = gateway.cpu_seconds(), emulator_proc.cpu_seconds()
        deadline = start + s.poller_spread + s.poller_done_after + 4 * s.poller_typical + 30
        with MemorySampler(gateway.pid, interval=0.1) as memory:
            while time.time() < deadline and fixtures.active_count(db):
                time.sleep(0.25)
        remaining = fixtures.active_count(db)
        cpu = gateway.cpu_seconds() - cpu_before
        emulator_cpu = emulator_proc.cpu_seconds() - emulator_cpu_before
        peak_rss = max(memory.peak, gateway.memory()[1])
        _, raw = http_get(emulator_port, "/_bench/stats", timeout=30)
    stats = json.loads(raw)
    rows = fixtures.completed_times(db)
    polls, minimum, lags, intervals, callback_lags, late = [], [], [], [], [], []
    for task, ref in made:
        done_at = stats["done_at"][ref.id]
        polls.append(stats["polls"].get(ref.id, 0))
        minimum.append(harness.min_polls(task, done_at))
        status, completed_at, _ = rows[task.id]
        if status == "completed" and completed_at is not None:
            lags.append(completed_at - done_at)
            intervals.append(harness.dispatcher.next_poll_delay(task, done_at))
            called_back = stats["called_back"].get(ref.id)
            if called_back is not None and called_back >= done_at:  # its last callback said it ended
                callback_lags.append(completed_at - called_back)
                late.append(called_back - done_at)
    result = {
        "polls": sum(polls) / len(polls),
        "minimum": sum(minimum) / len(minimum),
        "cpu_ms": 1000 * cpu / max(1, sum(polls)),
        "cpu_ms_per_task": 1000 * cpu / count,
        "emulator_cpu_ms": 1000 * emulator_cpu / max(1, sum(polls)),
        "rss_mb": peak_rss / MB,
        **_spread("lag", lags),
        "interval": max(intervals) if intervals else float("nan"),
        "remaining": remaining + (count - len(lags) - remaining),
    }
    if callbacks:
        result.update(_spread("callback_lag", callback_lags))
        result["sent_p99"] = _spread("sent", late)["sent_p99"]
        result["uncalled"] = len(lags) - len(callback_lags)
    b.log(f"  run {run + 1}{side}: " + ", ".join(f"{key} {value:.2f}" for key, value in result.items()))
    return result


def _spread(name: str, values: list[float]) -> dict[str, float]:
    """``name``'s p50, p99 and maximum (infinite when there is none)."""
    values = sorted(values)
    if not values:
        return {f"{name}_p50": float("inf"), f"{name}_p99": float("inf"), f"{name}_max": float("inf")}
    return {
        f"{name}_p50": _median(values),
        f"{name}_p99": values[min(len(values) - 1, int(0.99 * len(values)))],
        f"{name}_max": values[-1],
    }


def _post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _post_json(port: int, path: str, body: Any) -> Any:
    status, data = _post(port, path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    if status != 200:
        raise RuntimeError(f"POST {path} answered {status}: {data[:300]!r}")
    return json.loads(data)


# ---------------------------------------------------------------- case 5: content pass-through


def case_content(b: Bench) -> None:
    """Three ways to the same bytes: straight from the emulator, relayed by the
    gateway (a result it did not keep), and from the copy the gateway kept as
    the task completed (its default)."""
    s = b.settings
    b.log(f"case 5: content pass-through of a {s.video_mb:g} MB video")
    spec = b.spec()
    work = b.dir("content")
    with contextlib.ExitStack() as stack:
        emulator, emulator_proc = b.start_emulator_proc(
            stack, "emulator-content", generation_seconds=0.0, video_mb=s.video_mb
        )
        emulator_port = int(emulator.rsplit(":", 1)[1])
        channel = fixtures.channel_table(spec, emulator)
        # Two gateways, each with its own store: one keeps results (the default),
        # one does not and relays (as for a result it could not keep).
        port, relay_port = free_port(), free_port()
        db, relay_db = b.dir("content/keeping") / "reelay.db", b.dir("content/relaying") / "reelay.db"
        poller = {"enabled": True, "min_interval": 0.1}
        config = fixtures.write_config(work / "keeping.toml", port=port, store=db, channels=[channel], poller=poller)
        relay_config = fixtures.write_config(
            work / "relaying.toml", port=relay_port, store=relay_db, channels=[channel], keep_results=False
        )
        harness = fixtures.VendorHarness.from_config(config, b.vendor)
        (relayed, ref), (kept, kept_ref) = asyncio.run(harness.submit_jobs(2))
        retime = {"ids": [ref.id, kept_ref.id], "start": time.time() - 60, "duration": 0}
        _post_json(emulator_port, "/_bench/retime", retime)
        update = asyncio.run(harness.status_of(relayed))
        relayed.status, relayed.result, relayed.progress = update.status, update.result, 100
        relayed.completed_at = relayed.updated_at = relayed.created_at = time.time()
        fixtures.fill_store(relay_db, [relayed])
        # Left unfinished, for the keeping gateway's poller to find completed and copy.
        kept.status, kept.next_poll_at = TaskStatus.IN_PROGRESS, 0.0
        fixtures.fill_store(db, [kept])
        source = asyncio.run(harness.content_source(relayed))
        gateway = b.start_gateway(stack, "gateway-content", config, port, "content")
        relay_gateway = b.start_gateway(stack, "gateway-relay", relay_config, relay_port, "relay")
        gateway_headers = {"Authorization": f"Bearer {fixtures.TOKEN}"}
        _wait_kept(port, kept.id, gateway_headers, db.parent / "results")
        growth: dict[tuple[int, str], list[float]] = {}
        results: dict[int, dict[str, list[float]]] = {}
        # CPU milliseconds per MB moved, by process: on two cores the client, the
        # emulator and the gateway share the CPU, so this says where it went.
        cpu: dict[tuple[int, str], list[tuple[float, float, float]]] = {}
        for concurrency in (1, 8):
            count = s.downloads_per_run * concurrency

            def download(label: str, url: str, headers: dict[str, str], c: int, n: int) -> float:
                serving = relay_gateway if label == "relayed" else gateway
                procs = [emulator_proc, serving]
                before = [p.cpu_seconds() for p in procs]
                memory_before = serving.memory()[0]
                with MemorySampler(serving.pid) as memory:
                    done = run_downloads(url, headers, concurrency=c, count=n, seconds=30)
                growth.setdefault((c, label), []).append(max(0, memory.peak - memory_before) / MB)
                throughput = _throughput(done, n, s.video_mb)
                moved = done["bytes"] / MB
                spent = [p.cpu_seconds() - b for p, b in zip(procs, before, strict=True)]
                client = done["cpu_seconds"]
                cpu.setdefault((c, label), []).append(
                    (client * 1000 / moved, spent[0] * 1000 / moved, spent[1] * 1000 / moved)
                )
                return throughput

            def target(label: str, url: str, headers: dict[str, str], c: int, n: int) -> tuple[str, Callable[[], Any]]:
                return label, lambda: download(label, url, headers, c, n)

            content = "http://127.0.0.1:{}/v1/videos/{}/content"
            results[concurrency] = _alternate(
                s.runs,
                [
                    target("direct", source.url, dict(source.headers), concurrency, count),
                    target("relayed", content.format(relay_port, relayed.id), gateway_headers, concurrency, count),
                    target("kept", content.format(port, kept.id), gateway_headers, concurrency, count),
                ],
            )
    names = {
        "direct": "direct from the emulator",
        "relayed": "relayed by the gateway",
        "kept": "from the gateway's kept copy",
    }
    kept_met, relay_met, kept_parts, relay_parts = True, True, [], []
    for concurrency, by_label in results.items():
        for label, values in by_label.items():
            b.row("5 content", f"{names[label]} MB/s @{concurrency}", f"{_median(values):.0f}", _samples(values))
        others = _median([client + emulated for client, emulated, _ in cpu[concurrency, "direct"]])
        b.row("5 content", f"CPU ms/MB, client and emulator (direct) @{concurrency}", f"{others:.2f}")
        for label in ("relayed", "kept"):
            spent = _median([gateway_cpu for _, _, gateway_cpu in cpu[concurrency, label]])
            b.row("5 content", f"CPU ms/MB, gateway ({label}) @{concurrency}", f"{spent:.2f}")
        direct = _median(by_label["direct"])
        relay_ratio, kept_ratio = _median(by_label["relayed"]) / direct, _median(by_label["kept"]) / direct
        relay_growth, kept_growth = max(growth[concurrency, "relayed"]), max(growth[concurrency, "kept"])
        b.row("5 content", f"gateway RSS growth MB @{concurrency} (max)", f"{max(relay_growth, kept_growth):.1f}")
        kept_parts.append(f"{kept_ratio:.2f}x direct @{concurrency} (+{kept_growth:.0f} MB RSS)")
        relay_parts.append(f"{relay_ratio:.2f}x direct @{concurrency} (+{relay_growth:.0f} MB RSS)")
        kept_met = kept_met and kept_ratio >= 0.7 and kept_growth < s.video_mb
        relay_met = relay_met and relay_ratio >= 0.7 and relay_growth < s.video_mb
    goal = f"(goal >= 0.70, RSS growth < {s.video_mb:g} MB: streamed)"
    # Both paths are judged: the default one, and the one a result falls back to.
    b.verdict(
        "5", "case 5 content, served from the kept copy (the default): " + ", ".join(kept_parts) + f" {goal}", kept_met
    )
    b.verdict(
        "5",
        "case 5 content, relayed from the vendor (keep_results off, or a result over max_result_mb): "
        + ", ".join(relay_parts)
        + f" {goal}",
        relay_met,
    )


def _wait_kept(port: int, task_id: str, headers: dict[str, str], results: Path, timeout: float = 60.0) -> None:
    """Until the task shows completed and the gateway has kept its video."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status, body = http_get(port, f"/v1/videos/{task_id}", headers)
        if status == 200 and json.loads(body)["status"] == "completed" and any(results.glob(f"{task_id}.mp4")):
            return
        time.sleep(0.05)
    raise RuntimeError(f"task {task_id} was not completed and kept within {timeout:g} s")


def _throughput(done: dict[str, Any], expected: int, video_mb: float) -> float:
    if done["errors"] or done["downloads"] != expected:
        raise RuntimeError(f"downloads failed: {done}")
    return done["bytes"] / MB / done["seconds"]


# ---------------------------------------------------------------- case 6: start-up


def case_startup(b: Bench) -> None:
    s = b.settings
    b.log("case 6: start-up, `reelay serve` to the first 200 from /healthz")
    work = b.dir("startup")
    specs = fixtures.emulator_specs()
    channels = [fixtures.channel_table(spec, "http://127.0.0.1:9") for spec in specs.values()]
    b.facts["startup_vendors"] = sorted(specs)
    # Byte-compiled, as installing a wheel leaves a package (aiohttp, the baseline,
    # is): an editable install under PYTHONDONTWRITEBYTECODE, as on these machines,
    # would compile every module of the gateway and its plugins at each start.
    sources = [str(ROOT / "core" / "reelay"), *(str(p) for p in ROOT.glob("plugins/*/reelay_*"))]
    subprocess.run([PYTHON, "-m", "compileall", "-q", *sources], check=True, timeout=120)

    def gateway() -> float:
        port = free_port()
        config = fixtures.write_config(work / "reelay.toml", port=port, store=work / "reelay.db", channels=channels)
        proc = Proc("gateway-startup", b.gateway_argv(config), b.workdir)
        try:
            return wait_http(proc, port, "/healthz", timeout=20, interval=0.002)
        finally:
            proc.stop()

    def baseline() -> float:
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import aiohttp"], check=True, timeout=30)
        return time.perf_counter() - started

    results = _alternate(s.startup_runs, [("baseline", baseline), ("gateway", gateway)])
    gw, base = _median(results["gateway"]), _median(results["baseline"])
    b.row("6 start-up", 'python -c "import aiohttp" s', f"{base:.3f}", _samples(results["baseline"], "{:.3f}"))
    b.row(
        "6 start-up",
        f"reelay serve to /healthz 200 s ({len(specs)} vendors)",
        f"{gw:.3f}",
        _samples(results["gateway"], "{:.3f}"),
    )
    b.verdict(
        "6",
        f"case 6 start-up: {gw:.2f}s, {gw / base:.1f}x `import aiohttp` ({base:.2f}s), "
        f"vendors {', '.join(sorted(specs))} (goal < 1.00s)",
        gw < 1.0,
    )


CASES: dict[str, Callable[[Bench], None]] = {
    "status": case_status,
    "submit": case_submit,
    "poller": case_poller,
    "content": case_content,
    "startup": case_startup,
    "metrics": case_metrics,
    "billing": case_billing,
}
