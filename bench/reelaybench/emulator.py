"""Run one vendor emulator in its own process, instrumented for the benchmarks.

``python -m reelaybench.emulator --vendor kling --port 0`` prints
``listening <url>``. Besides the vendor's own API it answers:

- ``GET /_bench/stats``: status polls per job, when each job finished,
  when a poll first saw it finished and, for a vendor that calls back, when
  the emulator sent each job's last callback;
- ``POST /_bench/retime``: set jobs' start times and durations (the poller case);
  callbacks already scheduled follow (``EmulatedJob.retime``);
- ``GET /_bench/last``: the last vendor request that was not a poll (method,
  path, headers, body), which the submission baseline replays.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from reelay.emulation import CallbackSender, EmulatedJob, EmulatorSpec, JobPhase, serve_app
from reelay.plugins import Registry, make_plugin_manager

STATS = web.AppKey("reelaybench.stats", dict)
_KEPT_HEADERS = ("authorization", "content-type", "x-acme-key", "x-goog-api-key", "api-key")


def find_spec(vendor: str) -> EmulatorSpec:
    """The emulator of ``vendor`` (``auto``: Kling when installed, else the acme test vendor)."""
    pm = make_plugin_manager()
    specs = {spec.vendor: spec for spec in Registry.collect(pm).emulators}
    if vendor == "auto":
        vendor = "kling" if "kling" in specs else "acme"
    if vendor == "acme" and "acme" not in specs:
        import acme  # tests/plugins, on PYTHONPATH through bench_env()

        specs["acme"] = Registry.collect(make_plugin_manager(load_entry_points=False, plugins=[acme])).emulators[0]
    if vendor not in specs:
        raise SystemExit(f"no emulator for vendor {vendor!r} (installed: {', '.join(sorted(specs))})")
    return specs[vendor]


def find_jobs(app: web.Application) -> dict[str, EmulatedJob]:
    """The emulator's job table, wherever its state keeps it."""
    for key in app:
        value = app[key]
        if key is not STATS and isinstance(value, dict) and all(isinstance(j, EmulatedJob) for j in value.values()):
            return value
        jobs = getattr(value, "jobs", None)
        if isinstance(jobs, dict):
            return jobs
    raise RuntimeError("cannot find the emulator's jobs")


def find_callbacks(app: web.Application) -> list[tuple[str, str, float]]:
    """The callbacks the emulator sent, as (job id, status, time sent), oldest first; [] for a vendor
    that does not call back (an emulator that does keeps a :class:`CallbackSender` as ``state.callbacks``)."""
    for key in app:
        sender = getattr(app[key], "callbacks", None)
        if isinstance(sender, CallbackSender):
            return [(sent.job_id, sent.status, sent.at) for sent in sender.sent]
    return []


def instrument(app: web.Application) -> web.Application:
    stats: dict[str, Any] = {"polls": {}, "done_seen": {}, "last": None}
    app[STATS] = stats
    jobs_cache: list[dict[str, EmulatedJob]] = []

    def jobs() -> dict[str, EmulatedJob]:
        if not jobs_cache:
            jobs_cache.append(find_jobs(app))
        return jobs_cache[0]

    @web.middleware
    async def count(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        if request.path.startswith("/_bench/"):
            return await handler(request)
        if request.method == "POST":
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() in _KEPT_HEADERS}
            stats["last"] = {
                "method": "POST",
                "path": request.path_qs,
                "headers": headers,
                "body": base64.b64encode(body).decode(),
            }
        response = await handler(request)
        if request.method == "GET":
            job_id = request.path.rsplit("/", 1)[-1]
            job = jobs().get(job_id)
            if job is not None:
                polls = stats["polls"]
                polls[job_id] = polls.get(job_id, 0) + 1
                now = time.time()
                if job_id not in stats["done_seen"] and job.phase(now) is JobPhase.DONE:
                    stats["done_seen"][job_id] = now
        return response

    async def get_stats(request: web.Request) -> web.Response:
        table = jobs()
        # Later callbacks of a job overwrite earlier ones: its last (the one saying it ended) stays.
        called_back = {job_id: sent for job_id, _, sent in find_callbacks(app)}
        return web.json_response(
            {
                "jobs": len(table),
                "polls": stats["polls"],
                "done_seen": stats["done_seen"],
                "done_at": {job_id: job.created + job.duration for job_id, job in table.items()},
                "called_back": called_back,
            }
        )

    async def retime(request: web.Request) -> web.Response:
        body = await request.json()
        table = jobs()
        ids = body.get("ids") or list(table)
        start, spread, duration = float(body["start"]), float(body.get("spread", 0)), float(body["duration"])
        created = {}
        for index, job_id in enumerate(ids):
            job = table[job_id]
            job.retime(start + spread * index / max(1, len(ids)), duration)
            created[job_id] = job.created
        return web.json_response({"created": created})

    async def last(request: web.Request) -> web.Response:
        return web.json_response(stats["last"])

    async def reset(request: web.Request) -> web.Response:
        stats["polls"].clear()
        stats["done_seen"].clear()
        return web.json_response({"ok": True})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.middlewares.append(count)
    app.router.add_get("/_bench/stats", get_stats)
    app.router.add_post("/_bench/retime", retime)
    app.router.add_post("/_bench/reset", reset)
    app.router.add_get("/_bench/last", last)
    app.router.add_get("/_bench/health", health)
    return app


async def main(args: argparse.Namespace) -> None:
    spec = find_spec(args.vendor)
    overrides: dict[str, Any] = {"generation_seconds": args.generation_seconds}
    if args.video_mb:
        overrides["video"] = os.urandom(int(args.video_mb * 1024 * 1024))
    app = instrument(spec.create_app(spec.settings(**overrides)))
    async with serve_app(app, port=args.port) as url:
        print(f"vendor {spec.vendor}", flush=True)
        print(f"listening {url}", flush=True)
        await asyncio.Event().wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vendor", default="auto")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--generation-seconds", type=float, default=0.0)
    parser.add_argument("--video-mb", type=float, default=0.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except KeyboardInterrupt:
        pass
