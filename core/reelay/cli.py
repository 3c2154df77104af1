"""The ``reelay`` command: run the gateway, the demo, and inspect plugins.

A start-up problem a user can cause (a bad or missing configuration, an
unset environment variable, a busy port, an unusable store, a plugin that
does not load) is said in one line without a traceback, and the command
exits with :data:`EXIT_STARTUP`.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from typing import Any

import click

from . import __version__

#: The exit code of a command that could not start (the same as for wrong usage).
EXIT_STARTUP = 2


class StartupFailed(click.ClickException):
    """A start-up problem, printed as ``Error: <one line>`` with exit code 2."""

    exit_code = EXIT_STARTUP


def _config_failed(error: Exception) -> StartupFailed:
    """One line per configuration problem (one line in all for a single one)."""
    problems = getattr(error, "problems", None) or [str(error)]
    return StartupFailed("\n".join(problems) if len(problems) > 1 else problems[0])


class _Commands(click.Group):
    """The gateway's commands, and the client's, imported only when used:
    ``reelay serve`` starts without loading the client."""

    #: Client commands: name -> their module under ``reelay.client``.
    _CLIENT = {"generate": "cli", "tasks": "cli", "admin": "admin_cli", "models": "models_cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._CLIENT])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._CLIENT:
            module = importlib.import_module(f".client.{self._CLIENT[name]}", __package__)
            return getattr(module, name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="reelay")
def cli() -> None:
    """Reelay: one asynchronous HTTP API in front of many AI video vendors."""


@cli.command()
@click.option(
    "--config",
    "config_path",
    envvar="REELAY_CONFIG",
    required=True,
    type=click.Path(dir_okay=False),
    help="TOML configuration file (or REELAY_CONFIG).",
)
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", default=None, type=int, help="Override server.port.")
def serve(config_path: str, host: str | None, port: int | None) -> None:
    """Run the gateway with a configuration file.

    Tasks live in [store] url: a SQLite file (the default) or a PostgreSQL
    database several gateways share (pip install 'reelay[postgres]').
    The gateway polls vendors in the background and keeps each finished
    video in [store] results_dir (keep_results, max_result_mb, keep_days),
    because vendors' download links expire.
    """
    import attrs

    from .config import ConfigError, load_config
    from .engine import Dispatcher
    from .http.app import create_app
    from .logs import configure_logging
    from .plugins import PluginError, Registry, make_plugin_manager
    from .startup import StartupError, check_port, check_store

    try:
        config = load_config(config_path)
        if host or port:
            server = attrs.evolve(config.server, host=host or config.server.host, port=port or config.server.port)
            config = attrs.evolve(config, server=server)
        check_port(config.server.host, config.server.port, "pass --port or set server.port")
        check_store(config.store.url, config.store.results_dir if config.store.keep_results else None)
        pm = make_plugin_manager()
        Registry.collect(pm)
        dispatcher = Dispatcher(config, pm=pm, config_path=config_path)  # checks the configuration against the plugins
        configure_logging(config.logging.format, config.logging.level, cache=True)
    except ConfigError as error:
        raise _config_failed(error) from None
    except (PluginError, StartupError) as error:
        raise StartupFailed(str(error)) from None
    app = create_app(config, dispatcher=dispatcher)
    app.on_startup.append(_reload_on_sighup)
    # Everything loaded so far (modules, plugins, config) lives as long as
    # the process: keep it out of the collector's scans, which otherwise show
    # up as millisecond pauses in the latency tail.
    gc.freeze()
    _run(app, config.server, lambda url: click.echo(f"reelay {__version__} listening on {url}", err=True))


async def _reload_on_sighup(app: Any) -> None:
    """``kill -HUP``: re-read the configuration file (a file with problems changes nothing; they are logged)."""
    import asyncio
    import signal

    from .errors import ReelayError
    from .http.app import DISPATCHER

    reloading = app[DISPATCHER].reloading
    running: set[asyncio.Task[Any]] = set()

    async def reload() -> None:
        try:
            await reloading.reload()
        except ReelayError:
            pass  # logged by the reload, the running configuration kept

    def hangup() -> None:
        task = asyncio.create_task(reload(), name="reelay-reload")
        running.add(task)
        task.add_done_callback(running.discard)

    if hasattr(signal, "SIGHUP"):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, hangup)


def _run(app: Any, server: Any, ready: Any = None) -> None:
    """Serve with ``[server]``'s timeouts for slow clients (``ready(url)`` once listening); a
    failure to start (the port taken meanwhile, the store unreachable) is one line."""
    from .http.serving import run

    try:
        run(app, server, ready)
    except OSError as error:
        raise _cannot_start(server.host, server.port, error) from None


def _cannot_start(host: str, port: int, error: OSError) -> StartupFailed:
    """One line for a server that could not start: the system's words for the error
    (asyncio's bind error repeats the address in its own)."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return StartupFailed(f"cannot start on {host}:{port}: {reason}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, type=int, show_default=True)
@click.option("--generation-seconds", default=8.0, type=float, show_default=True, help="How long emulated jobs take.")
@click.option("--token", default=None, help="The demo API token (default: sk-reelay-demo).")
@click.option("--store", "store_url", default=None, help="Store URL (default: a fresh SQLite file).")
def demo(host: str, port: int, generation_seconds: float, token: str | None, store_url: str | None) -> None:
    """Run the gateway against every installed plugin's emulator (no keys, no network).

    On loopback (the default host) the demo gives vendors that call back its
    own address, so their tasks finish by callback; bound wider, it polls.
    One demo at a time may use a SQLite --store: a second one on the same
    file refuses to start. The temporary folder of a demo without --store
    is removed when it stops.
    """
    from .demo import DEMO_TOKEN, DemoStoreBusy, demo_store_lock, run_demo
    from .logs import configure_logging
    from .plugins import PluginError, Registry, make_plugin_manager
    from .startup import StartupError, check_port, check_store

    try:
        check_port(host, port, "pass --port")
        if store_url is not None:
            check_store(store_url)
        pm = make_plugin_manager()
        Registry.collect(pm)
        with demo_store_lock(store_url):
            configure_logging("console", os.environ.get("REELAY_LOG_LEVEL", "info"))
            run_demo(host, port, generation_seconds, token or DEMO_TOKEN, store_url, pm=pm)
    except (PluginError, StartupError, DemoStoreBusy) as error:
        raise StartupFailed(str(error)) from None
    except OSError as error:
        raise _cannot_start(host, port, error) from None


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their vendors, models and precedence rules."""
    from .plugins import PluginError, Registry, make_plugin_manager, plugin_distributions

    try:
        pm = make_plugin_manager()
        registry = Registry.collect(pm)
    except PluginError as error:
        raise StartupFailed(str(error)) from None
    listing = describe_plugins(pm, registry, plugin_distributions(pm))
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    if not listing["plugins"]:
        click.echo("No vendor plugins installed: `pip install reelay-<vendor>`, then `reelay plugins` lists it.")
    for plugin in listing["plugins"]:
        click.echo(f"{plugin['distribution']} {plugin['version']} (plugin {plugin['name']})")
    for vendor in listing["vendors"]:
        click.echo(f"\nvendor {vendor['name']}: {vendor['title']}")
        click.echo(f"  base_url default: {vendor['default_base_url']}")
        click.echo("  credentials: " + ", ".join(vendor["credentials"]))
        if vendor["options"]:
            click.echo("  channel options: " + ", ".join(f"{k} ({v})" for k, v in vendor["options"].items()))
        for model in vendor["models"]:
            kinds = "/".join(kind for kind in ("text-to-video", "image-to-video") if model[kind])
            aliases = f" (aliases: {', '.join(model['aliases'])})" if model["aliases"] else ""
            click.echo(f"  model {model['name']}{aliases}: {kinds}")
            click.echo(
                "    operations: " + (", ".join(name for name, can in model["operations"].items() if can) or "none")
            )
            click.echo(
                f"    durations {model['durations']} default {model['default_duration']};"
                f" sizes {model['sizes']} default {model['default_size']}; typical {model['typical_seconds']}s"
            )
            for line in model["precedence"] + model["inputs"]:
                click.echo(f"    {line}")
            if model["metadata_fields"]:
                click.echo("    metadata keys passed: " + ", ".join(model["metadata_fields"]))


def describe_plugins(pm: Any, registry: Any, distributions: list[tuple[str, str, str]]) -> dict[str, Any]:
    vendors = []
    for vendor in registry.vendors.values():
        models = []
        for model in registry.models_of(vendor.name):
            models.append(
                {
                    "name": model.name,
                    "aliases": list(model.aliases),
                    "upstream": model.upstream,
                    "text-to-video": model.capabilities.text_to_video,
                    "image-to-video": model.capabilities.image_to_video,
                    "end_frame": model.capabilities.end_frame,
                    "max_reference_images": model.capabilities.max_reference_images,
                    "operations": model.capabilities.operations(vendor),
                    "extension_seconds": list(model.capabilities.extension_seconds),
                    "durations": list(model.durations),
                    "default_duration": model.default_duration,
                    "sizes": list(model.sizes),
                    "default_size": model.default_size,
                    "typical_seconds": model.typical_seconds,
                    "precedence": model.precedence.describe(model.capabilities),
                    "inputs": model.describe_inputs(),
                    "metadata_fields": list(model.metadata_fields),
                }
            )
        vendors.append(
            {
                "name": vendor.name,
                "title": vendor.title,
                "default_base_url": vendor.default_base_url,
                "credentials": [c.name + ("" if c.required else " (optional)") for c in vendor.credentials],
                "options": dict(vendor.options),
                "models": models,
            }
        )
    plugins = [{"name": name, "distribution": dist, "version": version} for name, dist, version in distributions]
    return {"plugins": plugins, "vendors": vendors}


@cli.command("check-config")
@click.argument("config_path", type=click.Path(dir_okay=False), envvar="REELAY_CONFIG")
def check_config(config_path: str) -> None:
    """Check a configuration file against the installed plugins; every problem is reported in one run."""
    from .config import check_file
    from .plugins import PluginError, Registry, make_plugin_manager

    try:
        pm = make_plugin_manager()
        registry = Registry.collect(pm)
    except PluginError as error:
        raise StartupFailed(str(error)) from None
    config, problems = check_file(config_path, registry, pm)
    if problems or config is None:
        raise StartupFailed("invalid configuration:\n  " + "\n  ".join(problems))
    click.echo(f"{config_path}: ok ({len(config.tokens)} tokens, {len(config.channels)} channels)")


from .cli_money import credit, migrate, usage  # noqa: E402  (the money commands, in a module of their own)

cli.add_command(credit)
cli.add_command(usage)
cli.add_command(migrate)


def main() -> None:
    cli(prog_name="reelay")


if __name__ == "__main__":
    sys.exit(main())
