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
        Character,
        ContentSource,
        GenerationRequest,
        ModelSpec,
        SourceVideo,
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


@hookspec(firstresult=True)
def reelay_find_submission(
    task: Task, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef | None] | None:
    """Find upstream a job the gateway may have created but never heard back about.

    The gateway records a task before sending it and records the vendor's
    reference after; a gateway that dies in between leaves a task without
    ``vendor_ref``, and the vendor may or may not have the job (and charge
    for it). The poller asks this hook before anything else: search by the
    gateway's id (``task.id``) where the vendor stores one (an external or
    idempotency id), else by the vendor's list of jobs filtered by time
    (``task.created_at``), model and prompt. A job found is adopted: its
    reference is recorded and polled as usual.

    What happens when the search finds nothing, or when no plugin can search,
    is the vendor's declaration (:class:`reelay.VendorSpec`): the core submits
    again only if ``search_authoritative`` (a search that finds nothing proves
    the vendor never got the job) or ``resubmit_safe`` (the vendor dedupes
    submissions itself); otherwise the task fails with code
    ``submission_interrupted``.

    :param task: the interrupted task (``task.request`` holds what was sent).
    :param channel: the channel it was sent on.
    :param http: the gateway's shared client session.
    :return: an awaitable resolving to the job's :class:`reelay.VendorRef`,
        or to None when the search found none (raise a transient
        :class:`reelay.UpstreamError` when the search itself failed: it is
        tried again later); None when your vendor cannot search. Stops at the
        first non-None result.

    .. versionadded:: 0.2
    """


# ----------------------------------------------------------------------------
# Status: polling the vendor and mapping its answer
# ----------------------------------------------------------------------------


@hookspec(firstresult=True)
def reelay_fetch_status(task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    """Ask the vendor for a task's current state.

    The awaitable resolves to the vendor's raw status payload, which the core
    hands to :func:`reelay_map_status`. ``task.vendor_ref`` is always set:
    a task whose submission was interrupted goes to
    :func:`reelay_find_submission` instead.

    Raise ``UpstreamError`` for failures; transient ones are retried on the
    next poll without failing the task.

    :return: an awaitable, or None for channels of other vendors; stops at the
        first non-None result.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       no longer called without ``task.vendor_ref``.
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
    ``body`` there, and :func:`reelay_callback_reply` did not answer it as a
    handshake. Check what the vendor lets you check (its signature, that
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


@hookspec(firstresult=True)
def reelay_callback_reply(
    body: bytes, headers: Mapping[str, str], task: Task, channel: Channel
) -> Mapping[str, Any] | None:
    """A JSON body to answer a vendor's callback with, instead of reading it as a status: a handshake.

    Some vendors check a callback URL before they use it: they post a
    challenge there and create the task only if the URL answers it in time.
    The core asks this hook first, for every callback to a valid token; a
    mapping is answered as JSON with HTTP 200 and the body is not read as a
    status (:func:`reelay_parse_callback` is not called; the task does not
    change). The handshake may arrive while :func:`reelay_submit` still
    awaits the vendor's answer (``task.vendor_ref`` is then None): the task
    and its callback token are recorded before the create call. Answer at
    once, without I/O: vendors give such handshakes a few seconds.

    :param body: the request body as received.
    :param headers: the request headers.
    :param task: the task the callback's token belongs to, as stored (without its request).
    :param channel: the channel the task runs on.
    :return: the JSON object to answer with (what the vendor expects back,
        such as its challenge echoed); None for anything that is not your
        vendor's handshake (a status callback, a malformed challenge) and for
        channels of other vendors. Stops at the first non-None result.

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


@hookspec(firstresult=True)
def reelay_extend(
    source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    """Start an extension: a continuation of ``seconds`` seconds of a video, directed by ``prompt``.

    The core makes the extension a new task pinned to the source's channel;
    its reference is polled with :func:`reelay_fetch_status` like any task.
    ``seconds`` is one of the model's ``capabilities.extension_seconds``.

    :param source: a completed task of this channel (``source.task``) or an
        uploaded video (``source.data``); raise :class:`reelay.InvalidRequest`
        (``param="video"``) for a source the vendor cannot extend.
    :param prompt: what happens next.
    :param seconds: how long the continuation is.
    :return: an awaitable resolving to the new task's reference, or None when
        the vendor cannot extend (the core answers 400 ``not_supported``);
        stops at the first non-None result.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def reelay_edit(
    source: SourceVideo, prompt: str, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    """Start an edit: ``prompt`` applied to a completed task or an uploaded video.

    :param source: as for :func:`reelay_extend`.
    :param prompt: the change to make.
    :return: an awaitable resolving to the new task's reference, or None when
        the vendor cannot edit (the core answers 400 ``not_supported``); stops
        at the first non-None result.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def reelay_create_character(
    name: str, video: SourceVideo, channel: Channel, http: aiohttp.ClientSession
) -> Awaitable[VendorRef] | None:
    """Create a character from a video, for later generations on the same channel.

    The core keeps the returned reference under a public id of its own and
    hands the vendor's id to :func:`reelay_build_payload` in
    ``request.characters`` when a request uses the character.

    :param name: the character's display name (1-80 characters).
    :param video: the uploaded video (``video.data``).
    :return: an awaitable resolving to the character's reference, or None
        when the vendor has no characters; stops at the first non-None result.

    .. versionadded:: 0.2
    """


@hookspec(firstresult=True)
def reelay_get_character(character: Character, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
    """Check that a character still exists upstream.

    The awaitable resolves to anything (the vendor's object) when it does, or
    raises :class:`reelay.UpstreamError` with kind ``NOT_FOUND`` when the
    vendor has forgotten it. Without an implementation the core answers from
    what it stored at creation.

    :param character: the stored character (``character.vendor_ref.id`` is the vendor's id).
    :return: an awaitable, or None for channels of other vendors; stops at the
        first non-None result.

    .. versionadded:: 0.2
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


@hookspec
def reelay_upstream_called(channel: Channel, operation: str, seconds: float, outcome: str, model: str | None) -> None:
    """Called after each call the gateway made to a vendor through a plugin.

    Metrics and tracing hang here; the built-in metrics plugin counts
    submissions and polls and times every call. Never given a task id, a
    credential or a prompt.

    :param channel: the channel called.
    :param operation: ``submit``, ``poll``, ``content``, ``cancel`` or ``remix``.
    :param seconds: how long the call took.
    :param outcome: ``ok``, a :class:`reelay.FailureKind` value (``transient``,
        ``rate_limited``, ``channel``, ``caller``, ``content_policy``,
        ``not_found``), or ``error`` when the plugin raised something else.
    :param model: the public model name, when the call is about one.

    .. versionadded:: 0.2
    """


@hookspec
def reelay_unknown_status(channel: Channel, status: str) -> None:
    """Called when a vendor answered with a status its plugin does not know.

    The task is left as it was and polled again; observers count these (the
    metric ``reelay_unknown_vendor_statuses_total``) so a vendor's new state
    is noticed.

    :param channel: the channel whose vendor answered.
    :param status: the vendor's status as it sent it (never put in a metric label).

    .. versionadded:: 0.2
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
