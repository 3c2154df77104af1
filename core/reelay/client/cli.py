"""``reelay generate`` and ``reelay tasks``: a command-line client for a running gateway.

What a person reads is a table or a progress bar (on stderr, so stdout stays
clean); ``--json`` prints machine-readable JSON on stdout instead. Errors are
one line with the gateway's error code, and the exit code is non-zero.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from . import (
    ClientError,
    DownloadInterrupted,
    GatewayError,
    ReelayClient,
    image_value,
)
from .options import base_url_option, json_option

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

_STATUS_STYLES = {
    "queued": "yellow",
    "in_progress": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "magenta",
}


# ---------------------------------------------------------------- shared plumbing


class Session:
    """One command's client and output settings."""

    def __init__(self, base_url: str, api_key: str | None, as_json: bool):
        self.client = ReelayClient(base_url, api_key)
        self.as_json = as_json
        self.out = Console(highlight=False)
        if not self.out.is_terminal:  # piped: keep one task per line
            self.out.width = max(self.out.width, 200)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def emit_json(self, value: Any) -> None:
        click.echo(json.dumps(value, indent=2))


def wait_options(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--wait``, ``--output`` and ``--timeout`` for a command that starts a task (``what``: its name in help)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option("--timeout", type=float, default=None, help="Give up waiting after this many seconds.")(
            command
        )
        command = click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=f"Where to save the video (implies --wait; default with --wait: <{what} id>.mp4).",
        )(command)
        return click.option(
            "--wait", "-w", is_flag=True, help=f"Follow the {what} with a progress bar, then download the video."
        )(command)

    return decorate


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--base-url``, ``--api-key`` and ``--json`` for a command; passes a :class:`Session`."""

    @base_url_option
    @click.option("--api-key", envvar="REELAY_API_KEY", default=None, help="Bearer token (or REELAY_API_KEY).")
    @json_option
    @functools.wraps(command)
    def wrapper(base_url: str, api_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        session = Session(base_url, api_key, as_json)
        try:
            return command(session, **kwargs)
        except ClientError as error:
            if isinstance(error, GatewayError) and error.status == 401 and not api_key:  # the likely cause
                error.message += " (no API key was given: pass --api-key or set REELAY_API_KEY)"
            _fail(session, error)

    return wrapper


def _fail(session: Session, error: ClientError) -> None:
    if session.as_json:
        session.emit_json(error.body())
    else:
        session.err.print(f"[red]Error:[/] {_escape(str(error))}")
    sys.exit(EXIT_FAILED)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _task_line(task: dict[str, Any]) -> str:
    status = task.get("status", "?")
    style = _STATUS_STYLES.get(status, "white")
    return f"[bold]{task['id']}[/] [{style}]{status}[/] {task.get('progress', 0)}%"


def _when(timestamp: Any, form: str = "%Y-%m-%d %H:%M:%S") -> str:
    if not isinstance(timestamp, int | float):
        return ""
    return datetime.fromtimestamp(timestamp).strftime(form)


def _check_output(output: Path | None) -> None:
    """Fail before any request when ``output`` cannot be written: its folder is missing."""
    if output is not None and not output.parent.is_dir():
        raise ClientError(f"cannot save to {output}: the folder {output.parent} does not exist")


def _resume_command(task_id: str, output: Path | None) -> str:
    return f"reelay tasks wait {task_id}" + (f" -o {output}" if output is not None else "")


# ---------------------------------------------------------------- waiting and downloading


def _wait(session: Session, task_id: str, output: Path | None, timeout: float | None) -> dict[str, Any]:
    """Poll with a live bar (status, percent, elapsed); Ctrl-C leaves the task running."""
    try:
        if session.as_json:
            return session.client.wait(task_id, timeout=timeout)
        columns = (
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[task_id]}"),
            TextColumn("{task.fields[status]:<11}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=session.err, transient=False) as bar:
            row = bar.add_task("generating", total=100, task_id=task_id, status="…")

            def update(task: dict[str, Any]) -> None:
                status = task.get("status", "?")
                style = _STATUS_STYLES.get(status, "white")
                bar.update(row, completed=task.get("progress") or 0, status=f"[{style}]{status}[/]")

            return session.client.wait(task_id, on_update=update, timeout=timeout)
    except KeyboardInterrupt:
        session.err.print(
            f"\nStopped waiting; task [bold]{task_id}[/] keeps running on the gateway. Resume with:\n"
            f"  {_resume_command(task_id, output)}"
        )
        sys.exit(EXIT_INTERRUPTED)


def _download(session: Session, task_id: str, output: Path) -> Path:
    """Fetch the content with a byte bar; Ctrl-C keeps the partial file for a resume.

    The bar is drawn once the first bytes come: a task not finished yet, a
    missing folder or an unknown id is one error line, with no bar before it.
    """
    try:
        if session.as_json:
            return session.client.download(task_id, output)
        columns = (
            TextColumn("[bold]downloading"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
        )
        with contextlib.ExitStack() as stack:
            bar: Progress | None = None
            row = None

            def progress(done: int, total: int | None) -> None:
                nonlocal bar, row
                if bar is None:
                    bar = stack.enter_context(Progress(*columns, console=session.err))
                    row = bar.add_task("download", total=None)
                bar.update(row, completed=done, total=total)

            return session.client.download(task_id, output, on_progress=progress)
    except KeyboardInterrupt:
        session.err.print(
            f"\nDownload stopped; the part is kept. Resume with:\n  reelay tasks download {task_id} -o {output}"
        )
        sys.exit(EXIT_INTERRUPTED)
    except DownloadInterrupted as error:
        _fail(session, error)
        raise  # unreachable: _fail exits
    except GatewayError as error:
        if error.code == "task_not_ready":
            error.message = f"{error.message}; wait for it with: {_resume_command(task_id, output)}"
        raise


def _finish(session: Session, task: dict[str, Any], output: Path | None) -> None:
    """Report a finished task: download it if asked, or fail with its error."""
    if task.get("status") != "completed":
        error = task.get("error") or {}
        if session.as_json:
            session.emit_json(task)
        else:
            code = error.get("code") or task.get("status")
            message = error.get("message") or f"the task was {task.get('status')}"
            status = task.get("status")
            session.err.print(f"[red]Error:[/] task {task['id']} {status}: {_escape(message)} (code {code})")
        sys.exit(EXIT_FAILED)
    if output is None:
        if session.as_json:
            session.emit_json(task)
        else:
            session.out.print(f"{_task_line(task)}; download it with: reelay tasks download {task['id']} -o FILE")
        return
    saved = _download(session, task["id"], output)
    if session.as_json:
        session.emit_json({**task, "file": str(saved.resolve())})
    else:
        size = saved.stat().st_size
        session.out.print(f"[green]Saved[/] {saved} ({size:,} bytes); play it with any video player.")


# ---------------------------------------------------------------- reelay generate


def _parse_meta(values: tuple[str, ...]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--meta")
        try:
            metadata[key] = json.loads(raw)  # numbers, booleans, lists...
        except ValueError:
            metadata[key] = raw
    return metadata


@click.command()
@click.option("--model", "-m", required=True, help="A model from GET /v1/models (`reelay plugins` lists them).")
@click.option("--prompt", "-p", default=None, help="What to generate.")
@click.option(
    "--image",
    "-i",
    "images",
    multiple=True,
    help="Input image: a local file (sent as base64), an http(s) URL or a data: URI. Repeat for more.",
)
@click.option("--duration", "-d", type=int, default=None, help="Length in seconds.")
@click.option("--seconds", default=None, help="Length in seconds, OpenAI style (instead of --duration).")
@click.option("--size", "-s", default=None, help="1280x720, 720x1280 or a ratio like 16:9.")
@click.option("--meta", "meta", multiple=True, help="Vendor extra as key=value (value read as JSON if it parses).")
@wait_options("task")
@client_options
def generate(
    session: Session,
    model: str,
    prompt: str | None,
    images: tuple[str, ...],
    duration: int | None,
    seconds: str | None,
    size: str | None,
    meta: tuple[str, ...],
    wait: bool,
    output: Path | None,
    timeout: float | None,
) -> None:
    """Submit a video generation to the gateway (POST /v1/video/generations).

    \b
      reelay generate --model <model> --prompt "a red fox" --wait -o fox.mp4
    """
    if duration is not None and seconds is not None:
        raise click.UsageError("give --duration or --seconds, not both")
    _check_output(output)
    body: dict[str, Any] = {"model": model}
    if prompt is not None:
        body["prompt"] = prompt
    values = [image_value(source) for source in images]
    if values:
        body["image"] = values[0]
    if len(values) > 1:
        body["images"] = values[1:]
    if duration is not None:
        body["duration"] = duration
    if seconds is not None:
        body["seconds"] = seconds
    if size is not None:
        body["size"] = size
    if meta:
        body["metadata"] = _parse_meta(meta)
    task = session.client.create(body)
    if not (wait or output is not None):
        if session.as_json:
            session.emit_json(task)
        else:
            session.out.print(f"Submitted {_task_line(task)}")
            session.out.print(f"Follow it with: {_resume_command(task['id'], Path(task['id'] + '.mp4'))}")
        return
    output = output or Path(f"{task['id']}.mp4")
    if not session.as_json:
        session.err.print(f"Submitted [bold]{task['id']}[/] ({task.get('model')}); Ctrl-C stops waiting, not the task.")
    final = _wait(session, task["id"], output, timeout)
    _finish(session, final, output)


# ---------------------------------------------------------------- reelay tasks


@click.group()
def tasks() -> None:
    """List, inspect, wait for, download, cancel, remix and delete tasks on a running gateway."""


@tasks.command("list")
@click.option("--limit", "-n", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True)
@click.option("--after", default=None, help="Start after this task id (the list's last_id).")
@client_options
def list_tasks(session: Session, limit: int, order: str, after: str | None) -> None:
    """Your tasks, newest first (GET /v1/videos)."""
    page = session.client.list(limit=limit, order=order, after=after)
    if session.as_json:
        session.emit_json(page)
        return
    if not page.get("data"):
        session.out.print("No tasks yet. Start one with: reelay generate --model MODEL --prompt '...' --wait")
        return
    table = Table(box=None)
    for name in ("id", "model", "status", "progress", "seconds", "size", "created"):
        table.add_column(name, no_wrap=True)
    table.add_column("prompt", overflow="ellipsis", no_wrap=True, ratio=1, min_width=8)
    for task in page["data"]:
        status = task.get("status", "?")
        prompt = task.get("prompt") or ""
        table.add_row(
            task["id"],
            task.get("model") or "",
            f"[{_STATUS_STYLES.get(status, 'white')}]{status}[/]",
            f"{task.get('progress', 0)}%",
            task.get("seconds") or "",
            task.get("size") or "",
            _when(task.get("created_at"), "%m-%d %H:%M"),
            _escape(prompt if len(prompt) <= 40 else prompt[:39] + "…"),
        )
    session.out.print(table)
    if page.get("has_more"):
        session.out.print(f"More: reelay tasks list --after {page['last_id']}")


@tasks.command("show")
@click.argument("task_id")
@client_options
def show_task(session: Session, task_id: str) -> None:
    """One task's details (GET /v1/videos/{id})."""
    task = session.client.get(task_id)
    if session.as_json:
        session.emit_json(task)
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in task.items():
        if key in ("created_at", "completed_at") and value is not None:
            value = f"{_when(value)} ({value})"
        elif key == "status":
            value = f"[{_STATUS_STYLES.get(str(value), 'white')}]{value}[/]"
        elif isinstance(value, dict | list):
            value = _escape(json.dumps(value))
        elif value is None:
            value = "[dim]-[/]"
        else:
            value = _escape(str(value))
        table.add_row(key, value)
    session.out.print(table)


@tasks.command("wait")
@click.argument("task_id")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Download the video here."
)
@click.option("--timeout", type=float, default=None, help="Give up waiting after this many seconds.")
@client_options
def wait_task(session: Session, task_id: str, output: Path | None, timeout: float | None) -> None:
    """Follow a task with a progress bar until it ends; with -o, download the video."""
    _check_output(output)
    started = time.monotonic()
    final = _wait(session, task_id, output, timeout)
    if not session.as_json and output is None and final.get("status") == "completed":
        session.err.print(f"Done in {time.monotonic() - started:.1f}s.")
    _finish(session, final, output)


@tasks.command("download")
@click.argument("task_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to save the video (default: <task id>.mp4). An unfinished <file>.part is resumed.",
)
@client_options
def download_task(session: Session, task_id: str, output: Path | None) -> None:
    """Download a finished video (GET /v1/videos/{id}/content), resuming with Range."""
    output = output or Path(f"{task_id}.mp4")
    _check_output(output)
    saved = _download(session, task_id, output)
    if session.as_json:
        session.emit_json({"id": task_id, "file": str(saved.resolve()), "bytes": saved.stat().st_size})
    else:
        session.out.print(f"[green]Saved[/] {saved} ({saved.stat().st_size:,} bytes)")


@tasks.command("cancel")
@click.argument("task_id")
@client_options
def cancel_task(session: Session, task_id: str) -> None:
    """Cancel a running task (POST /v1/videos/{id}/cancel) where its vendor can."""
    task = session.client.cancel(task_id)  # the gateway's own words when it cannot (cancel_not_supported)
    if session.as_json:
        session.emit_json(task)
    else:
        session.out.print(f"Cancelled {_task_line(task)}")


@tasks.command("delete")
@click.argument("task_id")
@client_options
def delete_task(session: Session, task_id: str) -> None:
    """Delete a task and its kept video (DELETE /v1/videos/{id}); a running one is cancelled first where it can be."""
    answer = session.client.delete(task_id)
    if session.as_json:
        session.emit_json(answer)
    else:
        session.out.print(f"Deleted [bold]{answer.get('id', task_id)}[/]")


@tasks.command("remix")
@click.argument("task_id")
@click.option("--prompt", "-p", required=True, help="The new prompt.")
@wait_options("new task")
@client_options
def remix_task(
    session: Session, task_id: str, prompt: str, wait: bool, output: Path | None, timeout: float | None
) -> None:
    """A new task from a finished one with another prompt (POST /v1/videos/{id}/remix), where its vendor can."""
    _check_output(output)
    try:
        task = session.client.remix(task_id, prompt)
    except GatewayError as error:
        if error.code == "remix_not_supported":
            error.message = (
                f"task {task_id} cannot be remixed: its vendor offers no remix (the gateway said: {error.message})"
            )
        raise
    if not (wait or output is not None):
        if session.as_json:
            session.emit_json(task)
        else:
            session.out.print(f"Remixed {task_id} as {_task_line(task)}")
            session.out.print(f"Follow it with: {_resume_command(task['id'], Path(task['id'] + '.mp4'))}")
        return
    output = output or Path(f"{task['id']}.mp4")
    final = _wait(session, task["id"], output, timeout)
    _finish(session, final, output)
