"""A vendor plugin as one class: data declared, I/O as ``async def``, no hook glue.

:class:`VendorPlugin` implements every hook of :mod:`reelay.hookspecs` that a
vendor answers, once, for all plugins: each hook answers only for channels of
the plugin's own vendor (``channel.vendor == vendor.name``, the
:func:`reelay.for_vendor` rule) and hands the call to a method of the same
name without the ``reelay_`` prefix. A plugin subclasses it, declares its
vendor, models and emulators as class attributes, writes the methods its
vendor has (``async def submit`` and so on), and points its entry point at an
instance::

    class AcmePlugin(VendorPlugin):
        vendor = VendorSpec(name="acme", credentials=(CredentialSpec("api_key"),))
        models = (ModelSpec(name="acme-1", vendor="acme", ...),)

        def build_payload(self, request, model, channel):
            return {"prompt": request.prompt}

        async def submit(self, payload, channel, http):
            ...  # POST to the vendor; return VendorRef(id=...)

    plugin = AcmePlugin()          # pyproject: acme = "reelay_acme:plugin"

As with a pluggy hookimpl, a method takes the hook's arguments by name and
may leave out those it does not need (``submit`` above needs no ``request``).
So where a plugin's client module already has a function of the right shape,
the method is that function: ``fetch_status = staticmethod(client.fetch_status)``.
A method naming an argument its hook does not pass fails when the class is
defined.

Hooks stay synchronous, as pluggy requires: a hook here returns the
coroutine of the plugin's ``async def`` method, which the core awaits. A
method a vendor lacks (``cancel``, ``remix``...) is simply not written: the
hook then answers None and the core tells the caller the vendor cannot.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .hookspecs import hookimpl

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
        VendorRef,
        VendorSpec,
    )

__all__ = ["VendorPlugin"]

#: Each method a subclass may write, with the arguments its hook passes.
HOOK_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "validate_channel": ("channel", "vendor"),
    "serves": ("model", "channel"),
    "build_payload": ("request", "model", "channel"),
    "submit": ("payload", "request", "channel", "http"),
    "fetch_status": ("task", "channel", "http"),
    "map_status": ("payload", "task", "channel"),
    "open_content": ("task", "channel", "http", "variant"),
    "cancel": ("task", "channel", "http"),
    "remix": ("task", "prompt", "channel", "http"),
    "extend": ("source", "prompt", "seconds", "channel", "http"),
    "edit": ("source", "prompt", "channel", "http"),
    "create_character": ("name", "video", "channel", "http"),
    "get_character": ("character", "channel", "http"),
    "parse_callback": ("body", "headers", "task", "channel"),
    "callback_reply": ("body", "headers", "task", "channel"),
}


class VendorPlugin:
    """Base class of a vendor plugin; see the module documentation.

    Class attributes a subclass sets:

    - ``vendor``: the :class:`reelay.VendorSpec` (required).
    - ``models``: its :class:`reelay.ModelSpec` values, declared as data.
    - ``emulators``: :class:`reelay.emulation.EmulatorSpec` values for
      ``reelay demo`` and the end-to-end tests.
    - ``payload_type``: what ``build_payload`` returns; ``submit`` is then
      never handed anything else (another plugin's payload is a TypeError).

    Methods a subclass writes (each the hook of the same name with ``reelay_``
    in front, documented in :mod:`reelay.hookspecs`, called only for the
    vendor's own channels): ``build_payload``, ``async submit``,
    ``async fetch_status``, ``map_status``, ``async open_content`` (all a
    vendor needs), and where the vendor has them ``async cancel``,
    ``async remix``, ``async extend``, ``async edit``, ``async create_character``,
    ``async get_character``, ``validate_channel``, ``serves``, ``parse_callback``,
    ``callback_reply``. Each takes any of its hook's arguments by name (see
    :data:`HOOK_ARGUMENTS`).
    """

    vendor: ClassVar[VendorSpec]
    models: ClassVar[Sequence[ModelSpec]] = ()
    emulators: ClassVar[Sequence[EmulatorSpec]] = ()
    payload_type: ClassVar[type | tuple[type, ...] | None] = None

    #: For each method, the hook arguments it takes (None: all, by position).
    _arguments: ClassVar[dict[str, tuple[str, ...] | None]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "vendor" not in cls.__dict__ and not any("vendor" in base.__dict__ for base in cls.__mro__[1:-1]):
            raise TypeError(f"{cls.__name__} must set the class attribute 'vendor' to a VendorSpec")
        cls._arguments = {method: _arguments_taken(cls, method, given) for method, given in HOOK_ARGUMENTS.items()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} vendor={self.vendor.name!r}>"

    def _owns(self, channel: Channel) -> bool:
        return channel.vendor == self.vendor.name

    def _has(self, method: str) -> bool:
        """Whether the subclass wrote ``method`` (the base class writes none)."""
        return getattr(type(self), method, None) is not getattr(VendorPlugin, method, None)

    def _delegate(self, method: str, *values: Any) -> Any:
        """``method`` with the hook's argument ``values``, those it takes by name."""
        taken = self._arguments[method]
        if taken is None:
            return getattr(self, method)(*values)
        given = dict(zip(HOOK_ARGUMENTS[method], values, strict=True))
        return getattr(self, method)(**{name: given[name] for name in taken})

    def _optional(self, method: str, channel: Channel, *values: Any) -> Any:
        """:meth:`_delegate` for a method a vendor may lack: None for another vendor's
        ``channel``, or when the subclass did not write ``method``."""
        if not self._owns(channel) or not self._has(method):
            return None
        return self._delegate(method, *values)

    # ------------------------------------------------------------ registration

    @hookimpl
    def reelay_register_vendors(self, register: Callable[[VendorSpec], None]) -> None:
        register(self.vendor)

    @hookimpl
    def reelay_register_models(self, register: Callable[[ModelSpec], None]) -> None:
        for model in self.models:
            register(model)

    @hookimpl
    def reelay_register_emulators(self, register: Callable[[EmulatorSpec], None]) -> None:
        for emulator in self.emulators:
            register(emulator)

    # ------------------------------------------------------------ configuration

    @hookimpl
    def reelay_validate_channel(self, channel: Channel, vendor: VendorSpec) -> list[str] | None:
        return self._optional("validate_channel", channel, channel, vendor)

    @hookimpl
    def reelay_channel_serves(self, model: ModelSpec, channel: Channel) -> bool | None:
        return self._optional("serves", channel, model, channel)

    # ------------------------------------------------------------ the task's life

    @hookimpl
    def reelay_build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> Any | None:
        return self._delegate("build_payload", request, model, channel) if self._owns(channel) else None

    @hookimpl
    def reelay_submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        if not self._owns(channel):
            return None
        if self.payload_type is not None and not isinstance(payload, self.payload_type):
            raise TypeError(f"{type(self).__name__} cannot submit a {type(payload).__name__}")
        return self._delegate("submit", payload, request, channel, http)

    @hookimpl
    def reelay_fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
        return self._delegate("fetch_status", task, channel, http) if self._owns(channel) else None

    @hookimpl
    def reelay_find_submission(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef | None] | None:
        if not self._owns(channel) or not self._has("find_submission"):
            return None
        return self.find_submission(task, channel, http)

    @hookimpl
    def reelay_map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate | None:
        return self._delegate("map_status", payload, task, channel) if self._owns(channel) else None

    @hookimpl
    def reelay_open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> Awaitable[ContentSource] | None:
        return self._delegate("open_content", task, channel, http, variant) if self._owns(channel) else None

    @hookimpl
    def reelay_cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[None] | None:
        return self._optional("cancel", channel, task, channel, http)

    @hookimpl
    def reelay_remix(
        self, task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        return self._optional("remix", channel, task, prompt, channel, http)

    @hookimpl
    def reelay_extend(
        self, source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        return self._optional("extend", channel, source, prompt, seconds, channel, http)

    @hookimpl
    def reelay_edit(
        self, source: SourceVideo, prompt: str, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        return self._optional("edit", channel, source, prompt, channel, http)

    @hookimpl
    def reelay_create_character(
        self, name: str, video: SourceVideo, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        return self._optional("create_character", channel, name, video, channel, http)

    @hookimpl
    def reelay_get_character(
        self, character: Character, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[Any] | None:
        return self._optional("get_character", channel, character, channel, http)

    @hookimpl
    def reelay_parse_callback(
        self, body: bytes, headers: Mapping[str, str], task: Task, channel: Channel
    ) -> StatusUpdate | None:
        return self._optional("parse_callback", channel, body, headers, task, channel)

    @hookimpl
    def reelay_callback_reply(
        self, body: bytes, headers: Mapping[str, str], task: Task, channel: Channel
    ) -> Mapping[str, Any] | None:
        return self._optional("callback_reply", channel, body, headers, task, channel)

    # ------------------------------------------------------------ what a subclass writes

    def validate_channel(self, channel: Channel, vendor: VendorSpec) -> list[str]:
        """Problems with a channel beyond what ``vendor`` declares (``reelay_validate_channel``)."""
        return []

    def serves(self, model: ModelSpec, channel: Channel) -> bool:
        """Whether ``channel`` can serve ``model`` (``reelay_channel_serves``)."""
        return True

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> Any:
        """The vendor's wire payload (``reelay_build_payload``)."""
        raise NotImplementedError(f"{type(self).__name__} does not build payloads")

    async def submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        """Send the payload; the vendor's reference (``reelay_submit``)."""
        raise NotImplementedError(f"{type(self).__name__} does not submit")

    async def fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Any:
        """The vendor's raw status payload (``reelay_fetch_status``)."""
        raise NotImplementedError(f"{type(self).__name__} does not poll")

    async def find_submission(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> VendorRef | None:
        """The job an interrupted submission may have created, or None if the search
        found none (``reelay_find_submission``); not written when the vendor cannot search."""
        raise NotImplementedError

    def map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate:
        """The payload as a :class:`reelay.StatusUpdate` (``reelay_map_status``)."""
        raise NotImplementedError(f"{type(self).__name__} does not map statuses")

    async def open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> ContentSource:
        """Where the finished video's bytes are (``reelay_open_content``)."""
        raise NotImplementedError(f"{type(self).__name__} does not serve content")

    async def cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> None:
        """Cancel upstream (``reelay_cancel``); not written when the vendor cannot."""
        raise NotImplementedError

    async def remix(self, task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
        """Start a remix (``reelay_remix``); not written when the vendor has none."""
        raise NotImplementedError

    async def extend(
        self, source: SourceVideo, prompt: str, seconds: int, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        """Start an extension (``reelay_extend``); not written when the vendor has none."""
        raise NotImplementedError

    async def edit(self, source: SourceVideo, prompt: str, channel: Channel, http: aiohttp.ClientSession) -> VendorRef:
        """Start an edit (``reelay_edit``); not written when the vendor has none."""
        raise NotImplementedError

    async def create_character(
        self, name: str, video: SourceVideo, channel: Channel, http: aiohttp.ClientSession
    ) -> VendorRef:
        """Create a character (``reelay_create_character``); not written when the vendor has none."""
        raise NotImplementedError

    async def get_character(self, character: Character, channel: Channel, http: aiohttp.ClientSession) -> Any:
        """Check a character upstream (``reelay_get_character``); optional."""

    def parse_callback(self, body: bytes, headers: Mapping[str, str], task: Task, channel: Channel) -> StatusUpdate:
        """A vendor callback as a status update (``reelay_parse_callback``); written by vendors
        that call back (``VendorSpec.callbacks``). Return None for a body that is not valid."""
        raise NotImplementedError

    def callback_reply(
        self, body: bytes, headers: Mapping[str, str], task: Task, channel: Channel
    ) -> Mapping[str, Any] | None:
        """The JSON body answering a vendor's handshake, such as its challenge echoed
        (``reelay_callback_reply``); written by vendors that check the callback URL before
        using it. Return None for every other body (it is then read as a status)."""
        raise NotImplementedError


def _arguments_taken(cls: type[VendorPlugin], method: str, given: tuple[str, ...]) -> tuple[str, ...] | None:
    """The hook arguments ``cls.method`` takes by name (None: all of them, by position).

    :raises TypeError: the method asks for an argument its hook does not pass.
    """
    function = inspect.getattr_static(cls, method)
    if isinstance(function, staticmethod):
        parameters = list(inspect.signature(function.__func__).parameters.values())
    else:
        parameters = list(inspect.signature(function).parameters.values())[1:]  # self
    kinds = {parameter.kind for parameter in parameters}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return given
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return None
    # As in pluggy, a parameter the hook does not pass is left to its default, if it has one.
    unknown = [p.name for p in parameters if p.name not in given and p.default is inspect.Parameter.empty]
    if unknown:
        raise TypeError(
            f"{cls.__name__}.{method} takes {', '.join(map(repr, unknown))}, which reelay_{_hook(method)} "
            f"does not pass; it may take any of: {', '.join(given)}"
        )
    return tuple(parameter.name for parameter in parameters if parameter.name in given)


def _hook(method: str) -> str:
    return "channel_serves" if method == "serves" else method
