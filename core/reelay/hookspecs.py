"""The plugin contract: every hook a Reelay plugin can implement.

Hooks are grouped by the phase of a task's life. Implementations may accept
fewer arguments than a spec lists, so specs gain arguments over time without
breaking plugins (add, never rename or remove).

Hooks are synchronous. Vendor work that does I/O is returned as an awaitable
the core awaits: a plugin's ``reelay_submit`` returns ``self._submit(...)``
(a coroutine) for its own vendor and ``None`` otherwise. The "who owns this?"
hooks are ``firstresult``: the core stops at the first non-None answer, so a
plugin answers only for channels of its own vendor (``channel.vendor``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import aiohttp

    from .emulation import EmulatorSpec
    from .models import (
        Channel,
        ContentSource,
        GenerationRequest,
        ModelSpec,
        StatusUpdate,
        Task,
        TaskStatus,
        VendorRef,
        VendorSpec,
    )

PROJECT = "reelay"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ----------------------------------------------------------------------------
# Registration: what vendors and models a plugin brings
# ----------------------------------------------------------------------------


@hookspec
def reelay_register_vendors(register: Callable[[VendorSpec], None]) -> None:
    """Register the vendors this plugin can talk to.

    Call ``register(VendorSpec(...))`` once per vendor. The spec names the
    credentials a channel needs and the extra channel options the vendor reads,
    so configuration errors are reported before the server starts.

    :param register: call it with each :class:`reelay.VendorSpec`.

    .. versionadded:: 0.1
    """


@hookspec
def reelay_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register the models this plugin serves, declared as data.

    Each :class:`reelay.ModelSpec` carries capabilities, allowed durations and
    sizes with defaults, the typical generation time and the
    :class:`reelay.PrecedenceRules` the core applies to unified requests.

    :param register: call it with each model spec.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Configuration: checking channels and what they serve
# ----------------------------------------------------------------------------


@hookspec
def reelay_validate_channel(channel: Channel, vendor: VendorSpec) -> list[str] | None:
    """Report what is wrong with a channel of your vendor, beyond what the core checks.

    The core already checks the credentials and options ``VendorSpec``
    declares. Use this for rules data cannot say, such as "an API key, or a
    project with a token" depending on an option.

    :param channel: a configured channel (its credentials included).
    :param vendor: the spec of the channel's vendor.
    :return: problems as ``key: reason`` strings relative to the channel
        (for example ``credentials.project: required when api = "vertex"``);
        an empty list or None when there are none or the channel is not
        yours. Called for every channel; all answers are collected.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def reelay_channel_serves(model: ModelSpec, channel: Channel) -> bool | None:
    """Whether a channel of your vendor can serve a model.

    Channels serve every model of their vendor unless their ``models`` list
    narrows it; answer False where a channel's form cannot serve a model at
    all (a model only one of a vendor's APIs offers). Asked once per channel
    and model at start-up.

    :return: True or False for your vendor's channels, None otherwise; stops
        at the first non-None result.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Normalization: vendor-neutral request -> the vendor's wire payload
# ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def reelay_build_payload(request: GenerationRequest, model: ModelSpec, channel: Channel) -> Any | None:
    """Turn a normalized request into the vendor's wire payload.

    The core has already applied the model's precedence rules, defaults and
    the normalization policy: ``request.duration`` and ``request.size`` are
    what the vendor must be asked for. Raise :class:`reelay.InvalidRequest`
    (naming ``param`` and the allowed values) for requests the model cannot
    serve; this runs before anything is sent upstream.

    The payload is opaque to the core and handed back to :func:`reelay_submit`.

    :param request: the validated request; ``request.public_id`` is the
        gateway's task id (useful as an idempotency or external id).
    :param model: the model spec the request was normalized against.
    :param channel: the channel the payload is for (its ``model_map`` may
        rename the upstream model).
    :return: the payload; stops at the first non-None result. Return None for
        channels of other vendors.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Submission
# ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def reelay_submit(
    payload: Any,
    request: GenerationRequest,
    channel: Channel,
    http: aiohttp.ClientSession,
) -> Awaitable[VendorRef] | None:
    """Send a payload to the vendor with the channel's credentials.

    The awaitable resolves to the vendor's :class:`reelay.VendorRef` or raises
    :class:`reelay.UpstreamError` whose ``kind`` tells the dispatcher whether
    to fail over (``CHANNEL``, ``TRANSIENT``, ``RATE_LIMITED``) or answer the
    caller (``CALLER``, ``CONTENT_POLICY``).

    :param payload: what :func:`reelay_build_payload` returned for this channel.
    :param request: the normalized request.
    :param channel: the channel to use.
    :param http: the gateway's shared client session.
    :return: an awaitable, or None for channels of other vendors; stops at the
        first non-None result.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Status: polling the vendor and mapping its answer
# ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def reelay_fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    """Ask the vendor for a task's current state.

    The awaitable resolves to the vendor's raw status payload, which the core
    hands to :func:`reelay_map_status`. ``task.vendor_ref`` is None when the
    gateway stopped between recording the task and recording the vendor's id:
    a vendor that can find tasks by the gateway's id (``task.id``) looks it up;
    otherwise raise :class:`reelay.UpstreamError` with kind ``NOT_FOUND`` and
    the core submits the task again.

    Raise ``UpstreamError`` for failures; transient ones are retried on the
    next poll without failing the task.

    :return: an awaitable, or None for channels of other vendors; stops at the
        first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def reelay_map_status(payload: Any, task: Task, channel: Channel) -> StatusUpdate | None:
    """Map a vendor status payload into a :class:`reelay.StatusUpdate`.

    Pure and synchronous so it can be tested against fixture files of every
    vendor state. Leave ``progress`` None when the vendor gives none: the core
    estimates it from the model's typical duration. A completed update carries
    a :class:`reelay.VideoResult`; a failed one a :class:`reelay.TaskError`.

    :param payload: what :func:`reelay_fetch_status` resolved to.
    :param task: the task being polled (its ``vendor_ref`` tells the plugin
        which endpoint family it used).
    :param channel: the channel the task runs on.
    :return: the update; stops at the first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def reelay_parse_callback(body: bytes, headers: Mapping[str, str], task: Task, channel: Channel) -> StatusUpdate | None:
    """Read a vendor's callback about ``task`` as the status update a poll would give.

    Called for vendors whose :class:`reelay.VendorSpec` says ``callbacks``:
    the core passed them ``GenerationRequest.callback_url`` (a route of the
    gateway's own, with a token unguessable per task) and the vendor posted
    ``body`` there. Check what the vendor lets you check (its signature, that
    the body names ``task.vendor_ref``); the core applies the update as a
    poll's (statuses only move forward, progress never decreases), so a
    replayed callback changes nothing.

    :param body: the request body as received.
    :param headers: the request headers.
    :param task: the task the callback's token belongs to.
    :param channel: the channel the task runs on.
    :return: the update; None for channels of other vendors, or a body that is
        not a valid callback for this task (it changes nothing). Stops at the
        first non-None result.

    .. versionadded:: 0.2
    """


# ----------------------------------------------------------------------------
# Content: reading the finished video
# ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def reelay_open_content(
    task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
) -> Awaitable[ContentSource] | None:
    """Tell the core where to read a completed task's bytes from.

    The core proxies the returned :class:`reelay.ContentSource` (forwarding
    ``Range``), so callers never see the vendor's URL or credentials. It also
    calls this hook (``variant="video"``) as a task completes, to copy the
    video into its results directory before the vendor's link expires
    (``[store] keep_results``); downloads of a kept video, or of inline
    bytes the core stored, do not reach this hook.

    :param variant: ``video`` (default), or a vendor extra such as
        ``thumbnail``; raise :class:`reelay.InvalidRequest` for variants the
        vendor does not have.
    :return: an awaitable, or None for channels of other vendors; stops at the
        first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def reelay_cancel(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[None] | None:
    """Cancel (or delete) a task upstream, where the vendor can.

    :return: an awaitable for vendors that can cancel, None otherwise (the
        core then tells the caller cancellation is not supported); stops at
        the first non-None result.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def reelay_remix(task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[VendorRef] | None:
    """Start a remix of a completed task on the same channel.

    :return: an awaitable resolving to the new task's reference, or None when
        the vendor has no remix (the core answers 400); stops at the first
        non-None result.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Events: observers for webhooks, metrics and billing (1:N)
# ----------------------------------------------------------------------------


@hookspec
def reelay_request_accepted(task: Task, request: GenerationRequest) -> None:
    """Called once a task is accepted upstream and recorded.

    ``task.seconds`` and ``task.size`` are what the vendor was asked to
    generate, which is what should be billed.

    .. versionadded:: 0.1
    """


@hookspec
def reelay_task_changed(task: Task, previous: TaskStatus) -> None:
    """Called when a task's status changes (not on progress-only updates).

    :param task: the task after the change.
    :param previous: its status before.

    .. versionadded:: 0.1
    """


# ----------------------------------------------------------------------------
# Emulation: a real server speaking the vendor's protocol
# ----------------------------------------------------------------------------


@hookspec
def reelay_register_emulators(register: Callable[[EmulatorSpec], None]) -> None:
    """Register an emulator of a vendor's API.

    An emulator is an :class:`aiohttp.web.Application` speaking the vendor's
    wire protocol (auth checked, statuses advancing over time, a real MP4 as
    the result, injectable failures). ``reelay demo``, the end-to-end tests
    and :mod:`reelay.testing` start it on loopback and configure a channel
    for it.

    :param register: call it with a :class:`reelay.emulation.EmulatorSpec`.

    .. versionadded:: 0.1
    """
