"""A small synchronous client for a running Reelay gateway: what ``reelay generate`` and ``reelay tasks`` use.

It speaks the gateway's HTTP API with the standard library only, so it runs
anywhere the ``reelay`` command does, and it never touches a terminal:
progress is reported through callbacks, failures through exceptions.

    client = ReelayClient("http://127.0.0.1:8080", "sk-reelay-demo")
    task = client.create({"model": "acme-1", "prompt": "a red fox"})
    task = client.wait(task["id"], on_update=print)
    client.download(task["id"], "fox.mp4")
"""

from __future__ import annotations

import base64
import http.client
import json
import mimetypes
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})

_CHUNK = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")

ProgressCallback = Callable[[int, int | None], None]


class ClientError(Exception):
    """Anything that stops a client call; ``str()`` is one line for a person."""

    code = "client_error"

    def body(self) -> dict[str, Any]:
        """The error as the gateway's error object, for ``--json`` output."""
        return {"error": {"message": str(self), "type": "client_error", "code": self.code, "param": None}}


class GatewayError(ClientError):
    """The gateway answered with an error body ``{"error": {message, type, code, param}}``."""

    def __init__(self, status: int, message: str, *, code: str | None = None, type: str | None = None, param=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or "http_error"
        self.type = type
        self.param = param

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "code": self.code, "param": self.param}
        return {"error": error, "status": self.status}

    def __str__(self) -> str:
        return f"{self.message} (code {self.code}, HTTP {self.status})"


class ConnectionFailed(ClientError):
    """The gateway could not be reached at all."""

    code = "gateway_unreachable"


class DownloadInterrupted(ClientError):
    """The download broke more often than allowed; the partial file is kept for a later resume."""

    code = "download_interrupted"

    def __init__(self, message: str, partial: Path):
        super().__init__(message)
        self.partial = partial


class WaitTimeout(ClientError):
    """The task did not end within the time the caller allowed."""

    code = "wait_timeout"


def image_value(source: str) -> str:
    """What to send for ``--image``: URLs and ``data:`` URIs as they are, a local file as a ``data:`` URI."""
    if source.startswith(("http://", "https://", "data:")):
        return source
    path = Path(source).expanduser()
    if not path.is_file():
        raise ClientError(f"--image {source}: no such file (give a local path, an http(s) URL or a data: URI)")
    data = path.read_bytes()
    encoded = base64.b64encode(data).decode()
    from ..normalize import sniff_mime

    mime = sniff_mime(encoded) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{encoded}"


def partial_path(destination: Path) -> Path:
    """Where an unfinished download of ``destination`` is kept until it completes."""
    return destination.with_name(destination.name + ".part")


class ReelayClient:
    """The gateway's HTTP API as plain method calls.

    :param base_url: the gateway's origin (default ``$REELAY_BASE_URL`` or ``http://127.0.0.1:8080``).
    :param api_key: the Bearer token (default ``$REELAY_API_KEY``).
    :param timeout: seconds to wait for the gateway on each request.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0):
        self.base_url = (base_url or os.environ.get("REELAY_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("REELAY_API_KEY")
        self.timeout = timeout
        self._opener = urllib.request.build_opener()

    # ------------------------------------------------------------ plumbing

    def _open(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        """Send a request; an error status becomes :class:`GatewayError`."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        sent = {"Accept": "application/json", "User-Agent": "reelay-cli", **(headers or {})}
        if self.api_key:
            sent["Authorization"] = f"Bearer {self.api_key}"
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            return self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            with error:
                raise _gateway_error(error.code, error.read()) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from None

    def _unreachable(self, reason: Any) -> ConnectionFailed:
        if isinstance(reason, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(reason, TimeoutError):
            why = "timed out"
        else:
            why = str(reason) or type(reason).__name__
        return ConnectionFailed(
            f"cannot reach the gateway at {self.base_url} ({why}); is it running? "
            "Start one with `reelay demo`, or set --base-url / REELAY_BASE_URL"
        )

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[Any, Mapping[str, str]]:
        """A JSON request: the decoded body and the response headers."""
        try:
            with self._open(method, path, **kwargs) as response:
                raw = response.read()
                headers = dict(response.headers.items())
        except (OSError, http.client.HTTPException) as error:
            raise self._unreachable(error) from None
        try:
            return json.loads(raw), headers
        except ValueError:
            raise GatewayError(200, "the gateway's answer is not JSON", code="bad_response") from None

    # ------------------------------------------------------------ the API

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Submit a generation (``POST /v1/video/generations``); the new task object."""
        task, _ = self.request("POST", "/v1/video/generations", json_body=dict(body))
        return task

    def get(self, task_id: str) -> dict[str, Any]:
        """The task object (``GET /v1/videos/{id}``)."""
        return self._get(task_id)[0]

    def _get(self, task_id: str) -> tuple[dict[str, Any], float | None]:
        task, headers = self.request("GET", f"/v1/videos/{_quote(task_id)}")
        hint = headers.get("openai-poll-after-ms") or headers.get("Openai-Poll-After-Ms")
        try:
            return task, float(hint) / 1000 if hint is not None else None
        except ValueError:
            return task, None

    def list(self, *, limit: int = 20, order: str = "desc", after: str | None = None) -> dict[str, Any]:
        """The caller's tasks, newest first (``GET /v1/videos``, OpenAI list format)."""
        page, _ = self.request("GET", "/v1/videos", query={"limit": limit, "order": order, "after": after})
        return page

    def models(self) -> list[dict[str, Any]]:
        """The models the token can use, each with its ``x_reelay`` description (``GET /v1/models``)."""
        page, _ = self.request("GET", "/v1/models")
        return list(page["data"])

    def model(self, name: str) -> dict[str, Any]:
        """One model (or alias) with its ``x_reelay`` description (``GET /v1/models/{id}``)."""
        model, _ = self.request("GET", f"/v1/models/{_quote(name)}")
        return model

    def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a running task (``POST /v1/videos/{id}/cancel``).

        :raises GatewayError: code ``cancel_not_supported`` when the vendor cannot cancel.
        """
        task, _ = self.request("POST", f"/v1/videos/{_quote(task_id)}/cancel")
        return task

    def delete(self, task_id: str) -> dict[str, Any]:
        """Delete a task and its kept video (``DELETE /v1/videos/{id}``); ``{id, object, deleted}``."""
        answer, _ = self.request("DELETE", f"/v1/videos/{_quote(task_id)}")
        return answer

    def remix(self, task_id: str, prompt: str) -> dict[str, Any]:
        """A new task from a finished one with another prompt (``POST /v1/videos/{id}/remix``)."""
        task, _ = self.request("POST", f"/v1/videos/{_quote(task_id)}/remix", json_body={"prompt": prompt})
        return task

    def wait(
        self,
        task_id: str,
        *,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
        min_interval: float = 0.2,
        max_interval: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        stream: bool = True,
    ) -> dict[str, Any]:
        """Follow the task until it ends and return its final object.

        Reads the gateway's event stream (``GET /v1/videos/{id}/events``)
        when it offers one (and ``stream``); otherwise, or when the stream
        breaks, polls as often as the gateway's ``openai-poll-after-ms`` hint
        says, kept between ``min_interval`` and ``max_interval`` seconds so a
        progress display stays live.
        """
        started = time.monotonic()
        if stream:
            final = _follow_stream(self, task_id, on_update, timeout, started)
            if final is not None:
                return final
        while True:
            task, hint = self._get(task_id)
            if on_update is not None:
                on_update(task)
            if task.get("status") in TERMINAL_STATUSES:
                return task
            if timeout is not None and time.monotonic() - started > timeout:
                raise WaitTimeout(f"task {task_id} is still {task.get('status')} after {timeout:g}s")
            sleep(min(max(hint if hint is not None else max_interval, min_interval), max_interval))

    def download(
        self,
        task_id: str,
        destination: str | os.PathLike[str],
        *,
        on_progress: ProgressCallback | None = None,
        attempts: int = 5,
        variant: str | None = None,
        retry_delay: float = 0.2,
    ) -> Path:
        """Save the finished video (``GET /v1/videos/{id}/content``) to ``destination``.

        Bytes go to ``<destination>.part`` first. A broken stream is resumed
        with ``Range`` from the bytes already written, up to ``attempts``
        times; a ``.part`` left by an earlier run is resumed the same way.
        The file is renamed into place only once complete.

        :param on_progress: called with (bytes so far, total bytes or None).
        :raises DownloadInterrupted: the stream broke ``attempts`` times; the
            partial file stays for the next call to resume.
        """
        target = Path(destination)
        part = partial_path(target)
        if target.parent and not target.parent.exists():
            raise ClientError(f"cannot save to {target}: the folder {target.parent} does not exist")
        path = f"/v1/videos/{_quote(task_id)}/content"
        query = {"variant": variant} if variant else None
        failures = 0
        while True:
            done = part.stat().st_size if part.exists() else 0
            headers = {"Accept": "*/*"}
            if done:
                headers["Range"] = f"bytes={done}-"
            try:
                response = self._open("GET", path, query=query, headers=headers)
            except GatewayError as error:
                if error.status == 416 and done:
                    part.unlink()  # the kept part does not fit this file: start again
                    continue
                raise
            except ConnectionFailed:
                failures += 1
                if failures >= attempts or not done:
                    raise
                time.sleep(retry_delay)
                continue
            with response:
                total = _total_size(response, done)
                if response.status != 206:
                    done = 0  # the server sent the whole file: start the part again
                if on_progress is not None:
                    on_progress(done, total)
                try:
                    with part.open("ab" if done else "wb") as file:
                        while chunk := response.read(_CHUNK):
                            file.write(chunk)
                            done += len(chunk)
                            if on_progress is not None:
                                on_progress(done, total)
                    complete = total is None or done >= total
                except (OSError, http.client.HTTPException):
                    complete = False
            if complete:
                part.replace(target)
                return target
            failures += 1
            if failures >= attempts:
                raise DownloadInterrupted(
                    f"the download of {task_id} broke {failures} times; {done} bytes are kept in {part} "
                    "and the same command resumes from there",
                    part,
                )
            time.sleep(retry_delay)


def _total_size(response: http.client.HTTPResponse, start: int) -> int | None:
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
        length = response.headers.get("Content-Length")
        return start + int(length) if length and length.isascii() and length.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isascii() and length.isdigit() else None


def _final_event(
    response: http.client.HTTPResponse,
    on_update: Callable[[dict[str, Any]], None] | None,
    too_late: Callable[[], bool],
) -> dict[str, Any] | None:
    """Read Server-Sent Events (each ``data`` a task object) until the task's final one;
    None if the stream ends first. Raises :class:`_TooLate` once ``too_late()``."""
    data: list[str] = []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            task = json.loads("\n".join(data))
            data = []
            if on_update is not None:
                on_update(task)
            if task.get("status") in TERMINAL_STATUSES:
                return task
        if too_late():
            raise _TooLate
    return None


class _TooLate(Exception):
    """The caller's wait ran out while the stream was still open (unlike a read timeout)."""


def _gateway_error(status: int, raw: bytes) -> GatewayError:
    try:
        error = json.loads(raw)["error"]
        return GatewayError(
            status,
            str(error.get("message") or f"HTTP {status}"),
            code=error.get("code"),
            type=error.get("type"),
            param=error.get("param"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = raw.decode("utf-8", errors="replace").strip().splitlines()
        return GatewayError(status, f"HTTP {status}" + (f": {text[0][:200]}" if text else ""))


def _quote(task_id: str) -> str:
    return urllib.parse.quote(task_id, safe="")


def _follow_stream(
    client: ReelayClient,
    task_id: str,
    on_update: Callable[[dict[str, Any]], None] | None,
    timeout: float | None,
    started: float,
) -> dict[str, Any] | None:
    """The final task object from the event stream; None when there is no usable stream
    (an older gateway, a proxy in the way, a broken connection): the caller polls instead."""
    try:
        response = client._open("GET", f"/v1/videos/{_quote(task_id)}/events", headers={"Accept": "text/event-stream"})
    except GatewayError as error:
        if error.status in (401, 403) or error.code == "task_not_found":
            raise  # polling would hear the same
        return None
    except ClientError:
        return None
    with response:
        if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
            return None
        try:
            return _final_event(
                response, on_update, lambda: timeout is not None and time.monotonic() - started > timeout
            )
        except _TooLate:
            raise WaitTimeout(f"task {task_id} did not end within {timeout:g}s") from None
        except (OSError, ValueError, http.client.HTTPException):
            return None
