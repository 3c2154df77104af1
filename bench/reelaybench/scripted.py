"""The two processes of the fault run (``bench/faults.py``): a scripted acme emulator and an acme gateway.

``python -m reelaybench.scripted emulator --port 0`` runs the acme test
vendor's emulator (``tests/plugins/acme.py``) and prints ``listening <url>``.
A job's prompt scripts how it ends: ``[emulate:fail]`` fails it (acme's own
marker), ``[fault:seconds=N]`` makes it take N seconds (a very long time: the
gateway times it out). The emulator outlives the gateways, as a vendor does.

``python -m reelaybench.scripted gateway --config FILE [--grace S]`` runs
``reelay serve`` with the acme plugin registered (it is a test plugin, not an
installed one) and, for a run that lasts seconds, a submission grace of
``S`` seconds instead of two minutes: a task a killed gateway left without
the vendor's reference is recovered by the poller after that long.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable

from aiohttp import web

#: ``[fault:seconds=N]`` in a prompt: the job takes N seconds.
SECONDS_MARKER = re.compile(r"\[fault:seconds=([0-9.]+)\]")


def scripted_emulator(generation_seconds: float) -> web.Application:
    """Acme's emulator, each job's duration taken from its prompt."""
    import acme  # tests/plugins, on PYTHONPATH through bench_env()

    from reelay.emulation import EmulatorSettings

    settings = EmulatorSettings(credentials={"api_key": "acme-test-key-123"}, generation_seconds=generation_seconds)
    app = acme.create_emulator(settings)

    @web.middleware
    async def script(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        if request.method != "POST" or request.path != "/v2/jobs":
            return await handler(request)
        body = await request.json()  # read once: the handler reads the cached body again
        response = await handler(request)
        found = SECONDS_MARKER.search(str(body.get("text") or ""))
        if found is not None and isinstance(response, web.Response) and response.status == 200:
            job_id = json.loads(response.text)["job"]
            app[acme.JOBS][job_id].duration = float(found.group(1))
        return response

    app.middlewares.append(script)
    return app


async def run_emulator(port: int, generation_seconds: float) -> None:
    from reelay.emulation import serve_app

    async with serve_app(scripted_emulator(generation_seconds), port=port) as url:
        print(f"listening {url}", flush=True)
        await asyncio.Event().wait()


def run_gateway(config: str, grace: float) -> None:
    """``reelay serve --config FILE`` with acme registered and a short submission grace."""
    import acme

    import reelay.plugins
    from reelay.cli import cli
    from reelay.engine import submission

    original = reelay.plugins.make_plugin_manager

    def with_acme(*, load_entry_points: bool = True, plugins: tuple[object, ...] = ()) -> object:
        return original(load_entry_points=False, plugins=[acme, *plugins])

    reelay.plugins.make_plugin_manager = with_acme
    submission.SUBMISSION_GRACE_SECONDS = grace
    cli.main(args=["serve", "--config", config], prog_name="reelay")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser("emulator")
    emulator.add_argument("--port", type=int, default=0)
    emulator.add_argument("--generation-seconds", type=float, default=1.0)
    gateway = commands.add_parser("gateway")
    gateway.add_argument("--config", required=True)
    gateway.add_argument("--grace", type=float, default=3.0)
    args = parser.parse_args(argv)
    if args.command == "emulator":
        try:
            asyncio.run(run_emulator(args.port, args.generation_seconds))
        except KeyboardInterrupt:
            pass
    else:
        run_gateway(args.config, args.grace)


if __name__ == "__main__":
    sys.exit(main())
