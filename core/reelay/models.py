"""Reelay's domain model: plain attrs classes that know nothing of JSON.

Wire formats live at the edges (``reelay.http.wire`` for the gateway's HTTP API,
each plugin's own wire module for its vendor).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs
from attrs import field, frozen


class TaskStatus(enum.StrEnum):
    """The one status vocabulary every vendor's states are mapped into."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class NormalizationPolicy(enum.StrEnum):
    """What to do with a duration or size the model does not offer."""

    SNAP = "snap"  # use the nearest allowed value and report it on the task
    STRICT = "strict"  # reject with a 400 listing the allowed values


class ImageRole(enum.StrEnum):
    """What an input image is for, once the precedence rules have placed it."""

    FIRST_FRAME = "first_frame"
    LAST_FRAME = "last_frame"
    REFERENCE = "reference"


class SurplusImages(enum.StrEnum):
    """What to do with more input images than a model takes."""

    REJECT = "reject"  # a 400 naming how many the model takes
    DROP = "drop"  # keep the first ones in precedence order, report the rest as dropped


class MetadataPolicy(enum.StrEnum):
    """Which ``metadata`` keys a vendor plugin forwards into its payload."""

    ALL = "all"  # every key except the protected ones
    KNOWN = "known"  # only the keys the model declares; others are dropped and reported
    NONE = "none"


class InputKind(enum.StrEnum):
    """What a request gives the model to start from, which may change what it allows."""

    TEXT = "text"  # a prompt alone
    IMAGE = "image"  # a first frame and/or reference images
    FIRST_LAST = "first_last"  # a last frame (with or without a first one)


# ---------------------------------------------------------------- models as data


@frozen
class Capabilities:
    """What kinds of generation a model can do."""

    text_to_video: bool = True
    image_to_video: bool = False
    end_frame: bool = False
    max_reference_images: int = 0
    # Operations on a finished video (derived tasks) and on a running one. ``remix``
    # and ``cancel`` left None follow the vendor's ``can_remix``/``can_cancel``.
    remix: bool | None = None
    cancel: bool | None = None
    extend: bool = False
    edit: bool = False
    characters: bool = False
    #: The lengths an extension may add, in seconds (empty: the vendor decides).
    extension_seconds: tuple[int, ...] = ()

    def operations(self, vendor: VendorSpec | None = None) -> dict[str, bool]:
        """Which operations the model has: ``remix``, ``cancel``, ``extend``, ``edit``, ``characters``."""
        return {
            "remix": self.remix if self.remix is not None else bool(vendor and vendor.can_remix),
            "cancel": self.cancel if self.cancel is not None else bool(vendor and vendor.can_cancel),
            "extend": self.extend,
            "edit": self.edit,
            "characters": self.characters,
        }


@frozen
class DurationRule:
    """Durations allowed only under a condition (for example 8 s at 1080p).

    The rule applies when the effective size is in ``sizes`` or, with
    ``with_reference_images``, when the request carries reference images.
    """

    allowed: tuple[int, ...]
    sizes: tuple[str, ...] = ()
    with_reference_images: bool = False


@frozen
class PrecedenceRules:
    """How the unified request's overlapping fields feed a vendor's fields.

    Declared as data by each model so the core applies them uniformly and
    ``reelay plugins`` can show them.

    * ``duration_sources``: fields read in order, the first one present wins.
      Names are unified request fields (``duration``, ``seconds``) or
      ``metadata.<key>``.
    * ``image_sources``: the order in which ``image``, ``input_reference`` and
      ``images`` are flattened into one list of input images.
    * ``image_roles``: the role of the 1st, 2nd, ... image of that list. Images
      past the roles become reference images when the model takes them.
    * ``reference_image_sources``: ``metadata.<key>`` lists that go straight to
      reference images.
    * ``surplus_images``: reject or drop images past what the model takes
      (dropping makes "the first of image, input_reference, images" a rule).
    * ``size_on_image_to_video``: False when the vendor derives the frame from
      the input image, so ``size`` is not sent (and not reported).
    * ``metadata``: which metadata keys pass into the vendor payload;
      ``protected_fields`` can never be set from metadata (the routed model).
    """

    duration_sources: tuple[str, ...] = ("duration", "seconds")
    image_sources: tuple[str, ...] = ("image", "input_reference", "images")
    image_roles: tuple[ImageRole, ...] = (ImageRole.FIRST_FRAME,)
    reference_image_sources: tuple[str, ...] = ()
    surplus_images: SurplusImages = SurplusImages.REJECT
    size_on_image_to_video: bool = True
    metadata: MetadataPolicy = MetadataPolicy.ALL
    protected_fields: tuple[str, ...] = ("model",)

    def describe(self, capabilities: Capabilities | None = None) -> list[str]:
        """Human-readable lines, as ``reelay plugins`` prints them."""
        roles = list(self.image_roles)
        if capabilities is not None:
            roles = [
                role
                for role in roles
                if (role is ImageRole.FIRST_FRAME and capabilities.image_to_video)
                or (role is ImageRole.LAST_FRAME and capabilities.end_frame)
                or role is ImageRole.REFERENCE
            ]
        takes_references = capabilities is None or capabilities.max_reference_images > 0
        lines = [
            "duration: " + " > ".join(self.duration_sources),
            "images: "
            + " > ".join(self.image_sources)
            + " -> "
            + (", ".join(role.value for role in roles) or "none")
            + (" (then reference images)" if takes_references else "")
            + ("; extra images dropped" if self.surplus_images is SurplusImages.DROP else ""),
        ]
        if self.reference_image_sources:
            lines.append("reference images: " + ", ".join(self.reference_image_sources))
        if not self.size_on_image_to_video:
            lines.append("size: ignored for image-to-video (the image decides)")
        lines.append(
            f"metadata: {self.metadata.value}"
            + (f" (never overrides {', '.join(self.protected_fields)})" if self.protected_fields else "")
        )
        return lines


@frozen
class InputRules:
    """What a model allows for one kind of input, where it differs from the model's own values.

    ``None`` means "as the model declares": ``durations`` and ``sizes`` replace
    :attr:`ModelSpec.durations` and :attr:`ModelSpec.sizes` for this kind
    (snapped to or refused like them); ``prompt_required`` says whether a
    prompt is needed (always for text). Rules for ``first_last`` fall back to
    those for ``image``.
    """

    kind: InputKind
    durations: tuple[int, ...] | None = None
    sizes: tuple[str, ...] | None = None
    prompt_required: bool | None = None


@frozen
class ImageRules:
    """What the vendor accepts as an input image; the core refuses the rest with a 400.

    Checked against the image's bytes (its type sniffed, its width and height
    read from its header) before any upstream call. ``None`` and empty mean
    no limit.

    :param types: MIME types taken (``image/png``...); others are
        ``image_type_not_supported``.
    :param max_bytes: the largest image, decoded (``image_too_large``).
    :param min_side: the shortest side allowed, in pixels (``image_dimensions``).
    :param max_side: the longest side allowed, in pixels (``image_dimensions``).
    :param min_aspect: the narrowest width/height allowed (``image_aspect_ratio``).
    :param max_aspect: the widest width/height allowed (``image_aspect_ratio``).
    :param inline_urls: the vendor takes bytes, not URLs: the plugin downloads
        URL images with :func:`reelay.fetch.fetch_image` (or
        :func:`reelay.fetch.inline_images`), which checks them by these rules.
    :param https_domain: a URL passed to the vendor must be https on a domain
        name, not an IP address (``image_url_not_supported``).
    """

    types: tuple[str, ...] = ()
    max_bytes: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    inline_urls: bool = False
    https_domain: bool = False

    @property
    def needs_dimensions(self) -> bool:
        return any(v is not None for v in (self.min_side, self.max_side, self.min_aspect, self.max_aspect))

    def describe(self) -> str:
        """One line, as ``reelay plugins`` prints it."""
        parts = []
        if self.types:
            parts.append(", ".join(t.removeprefix("image/") for t in self.types))
        if self.max_bytes is not None:
            parts.append(f"at most {self.max_bytes} bytes")
        if self.min_side is not None or self.max_side is not None:
            parts.append(f"sides {self.min_side or 1}..{self.max_side or 'any'} px")
        if self.min_aspect is not None or self.max_aspect is not None:
            parts.append(f"aspect {self.min_aspect or 0:g}..{self.max_aspect or 'any'}")
        if self.inline_urls:
            parts.append("URLs downloaded and sent inline")
        if self.https_domain:
            parts.append("URLs must be https on a domain name")
        return "; ".join(parts) or "any"


@frozen
class ModelSpec:
    """A model a vendor plugin serves, declared as data.

    :param name: the public name callers send in ``model``.
    :param vendor: the vendor that serves it (a registered :class:`VendorSpec`).
    :param upstream_name: the vendor's own id, when it differs from ``name``.
    :param durations: allowed durations in seconds; ``default_duration`` is used
        when the caller sends none.
    :param sizes: allowed sizes, as ``WxH`` pixels or ``W:H`` ratios.
    :param typical_seconds: how long a generation usually takes; drives the
        poll schedule and the progress estimate.
    :param metadata_fields: the vendor's documented extra fields, used when
        ``precedence.metadata`` is ``known`` and shown by ``reelay plugins``.
    :param inputs: per kind of input (text, image, first and last frame),
        the durations, sizes and prompt rule that differ from the model's own.
    :param image_rules: what the vendor takes as an input image.
    :param max_prompt_chars: the longest prompt, in characters.
    :param max_images: the most input images a request may carry, counted
        before the precedence rules drop any.
    """

    name: str
    vendor: str
    capabilities: Capabilities = Capabilities()
    durations: tuple[int, ...] = (5,)
    default_duration: int | None = None
    duration_rules: tuple[DurationRule, ...] = ()
    sizes: tuple[str, ...] = ()
    default_size: str | None = None
    typical_seconds: float = 60.0
    precedence: PrecedenceRules = PrecedenceRules()
    upstream_name: str | None = None
    aliases: tuple[str, ...] = ()
    metadata_fields: tuple[str, ...] = ()
    description: str = ""
    inputs: tuple[InputRules, ...] = ()
    image_rules: ImageRules = ImageRules()
    max_prompt_chars: int | None = None
    max_images: int | None = None

    @property
    def upstream(self) -> str:
        return self.upstream_name or self.name

    #: What :meth:`rules_for` answers, per kind of input, worked out once (normalize asks on every submission).
    _effective: Mapping[InputKind, InputRules] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_effective", {kind: self._work_out(kind) for kind in InputKind})

    def rules_for(self, kind: InputKind) -> InputRules:
        """The effective durations, sizes and prompt rule for one kind of input."""
        return self._effective[kind]

    def _work_out(self, kind: InputKind) -> InputRules:
        found = {rules.kind: rules for rules in self.inputs}
        own = found.get(kind) or InputRules(kind)
        inherited = found.get(InputKind.IMAGE) if kind is InputKind.FIRST_LAST else None
        inherited = inherited or InputRules(kind)

        def pick(name: str, default: object) -> object:
            value = getattr(own, name)
            if value is None:
                value = getattr(inherited, name)
            return default if value is None else value

        return InputRules(
            kind,
            durations=pick("durations", self.durations),  # type: ignore[arg-type]
            sizes=pick("sizes", self.sizes),  # type: ignore[arg-type]
            prompt_required=pick("prompt_required", kind is InputKind.TEXT),  # type: ignore[arg-type]
        )

    def describe_inputs(self) -> list[str]:
        """Human-readable lines of the per-input rules and limits, as ``reelay plugins`` prints them."""
        lines = []
        for rules in self.inputs:
            parts = []
            if rules.durations is not None:
                parts.append(f"durations {list(rules.durations)}")
            if rules.sizes is not None:
                parts.append(f"sizes {list(rules.sizes)}")
            if rules.prompt_required is not None:
                parts.append("prompt required" if rules.prompt_required else "prompt optional")
            lines.append(f"{rules.kind.value} input: " + ", ".join(parts))
        limits = []
        if self.max_prompt_chars is not None:
            limits.append(f"prompt at most {self.max_prompt_chars} characters")
        if self.max_images is not None:
            limits.append(f"at most {self.max_images} image{'s' if self.max_images != 1 else ''}")
        if limits:
            lines.append("limits: " + ", ".join(limits))
        if self.capabilities.image_to_video and self.image_rules != ImageRules():
            lines.append("input images: " + self.image_rules.describe())
        return lines


@frozen
class CredentialSpec:
    """One credential a channel of this vendor needs."""

    name: str
    required: bool = True
    secret: bool = True
    description: str = ""


@frozen
class VendorSpec:
    """A vendor a plugin can talk to.

    :param options: channel keys beyond the core ones that this vendor reads
        (for example ``api``); other unknown keys are a configuration error.
    :param credentials: what ``[channels.credentials]`` must or may hold;
        ``alternatives`` lists groups of which one must be complete.
    :param resubmit_safe: submitting the same task twice is harmless (the
        vendor dedupes submissions server-side, by an idempotency key): an
        interrupted submission is sent again when it is not found upstream.
    :param search_authoritative: the plugin's ``find_submission`` finding
        nothing proves the vendor never received the job (it searches by the
        gateway's own id, which the vendor stores): an interrupted submission
        is then sent again. Otherwise it fails with ``submission_interrupted``.
    """

    name: str
    title: str = ""
    default_base_url: str | None = None
    credentials: tuple[CredentialSpec, ...] = ()
    options: Mapping[str, str] = attrs.field(factory=dict)
    can_cancel: bool = False
    can_remix: bool = False
    docs_url: str = ""
    resubmit_safe: bool = False
    search_authoritative: bool = False
    callbacks: bool = False  # the vendor can call back (reelay_parse_callback) when given a URL


# ---------------------------------------------------------------- configuration


@frozen
class Channel:
    """A configured vendor account. Credentials never appear in ``repr``."""

    name: str
    vendor: str
    base_url: str
    groups: tuple[str, ...] = ("default",)
    models: tuple[str, ...] = ()
    priority: int = 0
    weight: int = 1
    model_map: Mapping[str, str] = attrs.field(factory=dict)
    credentials: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    options: Mapping[str, Any] = attrs.field(factory=dict)
    normalization: NormalizationPolicy | None = None
    typical_seconds: float | None = None
    max_concurrency: int = 16
    #: A multi-key channel's keys, each the whole credentials table of one key
    #: (``credentials`` is the first's); empty for a channel with one key.
    keys: tuple[Mapping[str, str], ...] = attrs.field(default=(), repr=False)
    #: Which of ``keys`` this copy's ``credentials`` are (see :meth:`with_key`); None for the channel itself.
    key_index: int | None = None

    def upstream_model(self, model: ModelSpec) -> str:
        return self.model_map.get(model.name, model.upstream)

    @property
    def key_count(self) -> int:
        """How many keys the channel has (1 without ``keys``)."""
        return len(self.keys) or 1

    def key_name(self, index: int | None) -> str:
        """The name of one key's breaker: the channel's own name when it has one key."""
        return self.name if index is None or not self.keys else f"{self.name}#{index}"

    @property
    def breaker_name(self) -> str:
        """The breaker a call through this copy reports to (its key's, or the channel's)."""
        return self.key_name(self.key_index)

    def with_key(self, index: int | None) -> Channel:
        """This channel with key ``index``'s credentials (itself for a one-key channel and index 0 or None).

        :raises LookupError: the channel has no key ``index`` (any more).
        """
        if index is None or (not self.keys and index == 0):
            return self
        if not 0 <= index < len(self.keys):
            raise LookupError(f"channel {self.name!r} has no key {index}")
        return attrs.evolve(self, credentials=self.keys[index], key_index=index)


@frozen
class Token:
    """A caller's API token, kept only as a SHA-256 hash."""

    name: str
    key_sha256: str = field(repr=False)
    group: str = "default"
    rpm: int | None = None  # create requests a minute (per process); None: unlimited
    webhook_url: str | None = None  # where this caller's webhooks go (issue 18)
    webhook_secret: str | None = field(default=None, repr=False)  # whsec_ + base64: signs them
    #: The token's starting credit (applied once as a ``credit`` ledger entry); None: unlimited.
    quota: Decimal | None = None
    #: Unfinished tasks the token may have at once; None: no limit.
    max_in_flight: int | None = None


# ---------------------------------------------------------------- requests


@frozen
class ImageInput:
    """An input image: a URL, or inline bytes as base64 with a MIME type.

    The base64 text is kept as received so plugins never re-encode it.
    """

    url: str | None = None
    base64: str | None = field(default=None, repr=False)
    mime_type: str | None = None
    filename: str | None = None

    @property
    def is_url(self) -> bool:
        return self.url is not None

    def data_uri(self) -> str:
        if self.url is not None:
            return self.url
        return f"data:{self.mime_type or 'application/octet-stream'};base64,{self.base64}"


@frozen
class Adjustment:
    """A value the normalization changed, shown to the caller."""

    field: str
    requested: Any
    effective: Any
    reason: str


@frozen
class GenerationRequest:
    """A validated, vendor-neutral generation request.

    Built by the core from the unified request with the model's precedence
    rules applied: ``duration`` and ``size`` are the effective values the vendor
    will be asked for, images have their roles, ``extra`` holds the metadata
    keys allowed through.
    """

    model: str
    prompt: str | None = None
    duration: int | None = None
    size: str | None = None
    first_frame: ImageInput | None = None
    last_frame: ImageInput | None = None
    reference_images: tuple[ImageInput, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    adjustments: tuple[Adjustment, ...] = ()
    dropped_metadata: tuple[str, ...] = ()
    public_id: str = ""
    requested_model: str = ""  # the name the caller sent (an alias such as a dated snapshot)
    #: The vendor's ids of the characters the request uses (resolved from the caller's public ids).
    characters: tuple[str, ...] = ()
    callback_url: str | None = None  # where the vendor may call back (vendors with VendorSpec.callbacks)

    @property
    def is_image_to_video(self) -> bool:
        return self.first_frame is not None or self.last_frame is not None or bool(self.reference_images)


@frozen
class UnifiedRequest:
    """The caller's request as received (after JSON/multipart parsing)."""

    model: str
    prompt: str | None = None
    image: str | None = None
    images: tuple[str, ...] = ()
    input_reference: tuple[str, ...] = ()
    duration: Any = None
    seconds: Any = None
    size: str | None = None
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    uploads: tuple[ImageInput, ...] = ()  # files sent as multipart parts
    characters: tuple[str, ...] = ()  # public ids of characters (POST /v1/videos/characters)
    webhook_url: str | None = None  # this task's webhooks go here instead of the token's


# ---------------------------------------------------------------- vendor answers


@frozen
class VendorRef:
    """What a vendor returned for an accepted submission.

    :param id: the vendor's task or operation id, stored whole.
    :param data: small extra facts the plugin needs later (for example which
        endpoint family the task lives on).
    """

    id: str
    data: Mapping[str, Any] = attrs.field(factory=dict)


@frozen
class VideoResult:
    """Where a finished video is.

    A plugin sets ``url`` (read through its content hook) or ``data`` (inline
    bytes), or neither when its content hook knows where the video is. The
    core sets ``path`` to the file it keeps: the inline bytes (``data`` is
    then dropped) or its copy of the vendor's video (``url`` stays, in case
    the file is removed).
    """

    url: str | None = field(default=None, repr=False)
    data: bytes | None = field(default=None, repr=False)
    path: str | None = None
    mime_type: str = "video/mp4"
    duration: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@frozen
class TaskError:
    """Why a task failed: a stable ``code`` and a human message."""

    code: str
    message: str


@frozen
class StatusUpdate:
    """A vendor status mapped into Reelay's vocabulary.

    ``progress`` is None when the vendor gives none (the core estimates it).
    ``vendor_ref`` is set when a task the gateway lost track of mid-submission
    was found upstream by the gateway's id: the core records it.
    """

    status: TaskStatus
    progress: int | None = None
    result: VideoResult | None = None
    error: TaskError | None = None
    vendor_ref: VendorRef | None = None


@frozen
class SourceVideo:
    """The video a derived task (an extension, an edit) or a character starts from.

    Either ``task``, a completed task of the same channel (its ``vendor_ref``
    and ``result`` tell the plugin where the video is), or ``data``, a video
    the caller uploaded.
    """

    task: Task | None = None
    data: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    mime_type: str | None = None


@frozen
class Character:
    """A character made from a video, reusable in later generations on its channel.

    ``id`` is the gateway's public id; ``vendor_ref`` the vendor's, never shown.
    """

    id: str
    owner: str
    name: str
    model: str
    vendor: str
    channel: str
    created_at: float
    vendor_ref: VendorRef


@frozen
class ContentSource:
    """How to read a finished video: an upstream URL with headers to proxy."""

    url: str = field(repr=False)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    mime_type: str | None = None


# ---------------------------------------------------------------- tasks


class CostState(enum.StrEnum):
    """Where a task's price is in the ledger: held at submission, then settled or refunded once."""

    HELD = "held"
    SETTLED = "settled"
    REFUNDED = "refunded"


def amount_text(amount: Decimal) -> str:
    """An amount as text, exact, with at least two decimal places ("0.35", "25.00", "0.000125")."""
    whole, _, fraction = format(amount.normalize(), "f").partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


@frozen
class Cost:
    """What a task costs the caller: the amount held, then the amount settled (or refunded)."""

    amount: Decimal
    currency: str
    state: CostState = CostState.HELD


@attrs.define
class Task:
    """A generation task as the gateway tracks it."""

    id: str
    owner: str
    model: str
    vendor: str
    channel: str
    status: TaskStatus = TaskStatus.QUEUED
    progress: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    completed_at: float | None = None
    seconds: int | None = None
    size: str | None = None
    prompt: str | None = None
    vendor_ref: VendorRef | None = None
    result: VideoResult | None = None
    error: TaskError | None = None
    adjustments: tuple[Adjustment, ...] = ()
    request: GenerationRequest | None = field(default=None, repr=False)
    next_poll_at: float = 0.0
    poll_failures: int = 0
    remixed_from: str | None = None
    #: None when the model has no price.
    cost: Cost | None = None
    #: Which key of a multi-key channel the task was submitted with (polled,
    #: cancelled and downloaded with it too); None on a channel with one key.
    key_index: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def public_model(self) -> str:
        """The model name the caller sees: the ``[[aliases]]`` name it asked for
        where an alias served it (its ``model`` adjustment), else :attr:`model`,
        the key of the model that generates it (what polling and billing use)."""
        for adjustment in self.adjustments:
            if adjustment.field == "model":
                return adjustment.requested
        return self.model
