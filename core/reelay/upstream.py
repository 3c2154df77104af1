"""Vendor-neutral HTTP helpers for plugins calling their vendor.

One place turns connection errors, timeouts and non-JSON answers into
:class:`reelay.UpstreamError`, so every plugin reports them the same way and
never leaks a credential into a message; and one reads a vendor's callback
as its status answer.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import attrs
import cattrs
import orjson

from .errors import FailureKind, UpstreamError
from .models import Channel, StatusUpdate, Task

T = TypeVar("T")

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
#: Bodies above this size are sent from a stream: aiohttp copies (and warns about) one large bytes payload.
_STREAM_ABOVE = 256 * 1024


@attrs.frozen
class JsonResponse:
    """An upstream answer: HTTP status, parsed JSON body (or None) and headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    text: str = attrs.field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def retry_after(self) -> float | None:
        value = self.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


async def request_json(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    vendor: str,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    data: Any = None,
    params: Mapping[str, str] | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> JsonResponse:
    """Send one request and read a JSON answer, whatever its status.

    The caller decides what a non-2xx status means for its vendor. Connection
    failures and timeouts raise ``UpstreamError(TRANSIENT)``.
    """
    if json_body is not None:
        encoded = orjson.dumps(json_body)
        # Bodies carrying base64 images run to megabytes.
        data = io.BytesIO(encoded) if len(encoded) > _STREAM_ABOVE else encoded
        headers = {**(headers or {}), "Content-Type": "application/json"}
    try:
        async with http.request(
            method,
            url,
            headers=headers,
            data=data,
            params=params,
            timeout=timeout or DEFAULT_TIMEOUT,
        ) as response:
            raw = await response.read()
            try:
                body = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                body = None
            text = raw[:500].decode("utf-8", errors="replace")
            return JsonResponse(response.status, body, response.headers, text)
    except TimeoutError:
        raise UpstreamError(
            FailureKind.TRANSIENT, f"{vendor} did not answer in time", code="upstream_timeout"
        ) from None
    except aiohttp.ClientError as error:
        raise UpstreamError(
            FailureKind.TRANSIENT, f"could not reach {vendor}: {type(error).__name__}", code="upstream_unreachable"
        ) from None


def join_url(base_url: str, path: str) -> str:
    """``base_url`` (an origin, maybe with a trailing slash) joined with an absolute ``path``."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


# ---------------------------------------------------------------- reading answers

#: The code of the transient failure a vendor's unreadable answer is reported as.
BAD_RESPONSE = "upstream_bad_response"


def parse_answer(body: Any, cls: type[T], converter: cattrs.Converter, *, vendor: str, what: str) -> T:
    """A vendor's decoded JSON answer read into the attrs class ``cls``, or a transient error.

    The plugin's own (private) ``converter`` carries its rules: renames,
    whether unknown keys are ignored. A vendor answering something that is
    not a JSON object, or an object that does not fit ``cls``, is a passing
    fault of the vendor, never the caller's: the task is polled again.

    :param vendor: the vendor's name, for the message.
    :param what: what the answer should hold, for the message (``"a task object"``).
    :raises UpstreamError: ``TRANSIENT`` with code ``upstream_bad_response``:
        ``"<vendor> answered without <what>"`` or ``"<vendor> answered <what> it could not read"``.
    """
    if not isinstance(body, Mapping):
        raise UpstreamError(FailureKind.TRANSIENT, f"{vendor} answered without {what}", code=BAD_RESPONSE)
    try:
        return converter.structure(body, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError):
        raise UpstreamError(
            FailureKind.TRANSIENT, f"{vendor} answered {what} it could not read", code=BAD_RESPONSE
        ) from None


def callback_update(
    body: bytes, task: Task, vendor_id: Callable[[Any], str], map_status: Callable[[Any], StatusUpdate]
) -> StatusUpdate | None:
    """A vendor's callback that posts its status answer (the JSON a poll gets), read as the poll reads it.

    For vendors that sign nothing: the callback URL's per-task token is the
    credential, and the body must name the task's vendor id.

    :param body: the callback's body, as received.
    :param task: the task the callback's token belongs to.
    :param vendor_id: the vendor's id of the task in a decoded answer (the plugin's own reader).
    :param map_status: the plugin's status mapping of a decoded answer, the one its polls use.
    :return: the update; None when the body is not JSON, is not an answer the
        plugin can read (:class:`UpstreamError` from its reader or mapping:
        another shape, an undocumented status), names another task, or
        arrives before the task's vendor id is recorded (nothing to check it
        against). None changes nothing: the polls go on.
    """
    try:
        data = orjson.loads(body)
        named = vendor_id(data)
        update = map_status(data)
    except (ValueError, UpstreamError):  # orjson's errors are ValueErrors, invalid UTF-8 too
        return None
    if task.vendor_ref is None or named != task.vendor_ref.id:
        return None
    return update


def vendor_error(
    vendor: str,
    http_status: int,
    kind: FailureKind,
    *,
    code: str | int | None = None,
    message: str | None = None,
    request_id: str | None = None,
    param: str | None = None,
    retry_after: float | None = None,
) -> UpstreamError:
    """The :class:`UpstreamError` for a vendor's error answer, worded the same way for every vendor.

    The plugin decides ``kind`` (whose fault it is) from the vendor's codes;
    this writes the message: ``"<vendor> error <code>: <message>"`` when the
    vendor sent an error code of its own, else ``"<vendor> answered HTTP
    <status>: <message>"``, without ``: <message>`` when there is none, and
    ``" (request_id <id>)"`` after it when the vendor named its request.

    :param code: the vendor's error code; empty, ``None`` or ``0`` for none.
    :param message: the vendor's error text (keep it short; never a credential).
    :param param: the request field at fault, when the vendor said.
    :param retry_after: seconds the vendor asked to wait.
    """
    detail = f"{vendor} error {code}" if code not in (None, "", 0) else f"{vendor} answered HTTP {http_status}"
    if message:
        detail += f": {message}"
    if request_id:
        detail += f" (request_id {request_id[:64]})"
    return UpstreamError(kind, detail, param=param, http_status=http_status, retry_after=retry_after)


# ---------------------------------------------------------------- regional hosts


@attrs.frozen
class Regions:
    """A vendor's regional hosts, one picked by a channel's ``region`` option.

    A channel names its region in ``options["region"]`` (any case); without
    the option it is in ``default``. Its ``base_url`` still wins when it is
    set to something other than the default region's origin (which is what
    the vendor's ``default_base_url`` should be, and what the core fills in
    for a channel without one): a proxy, a private endpoint, an emulator.

    :param origins: each region's name and the origin it is served at, in the order messages list them.
    :param default: the region of a channel without the option.
    :param label: what a region is called in messages (``"an Acme region"``).
    """

    origins: Mapping[str, str]
    default: str
    label: str = "a region"
    option: str = "region"

    def named(self, channel: Channel) -> str | None:
        """The region the channel names (``default`` without the option); None for a name not in ``origins``."""
        name = str(channel.options.get(self.option, self.default)).lower()
        return name if name in self.origins else None

    def region(self, channel: Channel) -> str:
        """The channel's region; ``default`` for an unknown name (which :meth:`problems` reports)."""
        return self.named(channel) or self.default

    def origin(self, channel: Channel) -> str:
        """The origin to call: ``base_url`` when set to another than the default's, else the region's."""
        base = channel.base_url.rstrip("/")
        if base and base != self.origins[self.default].rstrip("/"):
            return base
        return self.origins[self.region(channel)]

    def problems(self, channel: Channel) -> list[str]:
        """What is wrong with the channel's option, for ``validate_channel``: nothing, or the unknown name."""
        if self.named(channel) is not None:
            return []
        name = str(channel.options.get(self.option)).lower()
        return [f"options.{self.option}: {name!r} is not {self.label}; use {' or '.join(self.origins)}"]
