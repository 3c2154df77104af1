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

        async def submit(self, payload, request, channel, http):
            ...  # POST to the vendor; return VendorRef(id=...)

    plugin = AcmePlugin()          # pyproject: acme = "reelay_acme:plugin"

Hooks stay synchronous, as pluggy requires: a hook here returns the
coroutine of the plugin's ``async def`` method, which the core awaits. A
method a vendor lacks (``cancel``, ``remix``...) is simply not written: the
hook then answers None and the core tells the caller the vendor cannot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .hookspecs import hookimpl

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    import aiohttp

    from .emulation import EmulatorSpec
    from .models import Channel, ContentSource, GenerationRequest, ModelSpec, StatusUpdate, Task, VendorRef, VendorSpec

__all__ = ["VendorPlugin"]


class VendorPlugin:
    """Base class of a vendor plugin; see the module documentation.

    Class attributes a subclass sets:

    - ``vendor``: the :class:`reelay.VendorSpec` (required).
    - ``models``: its :class:`reelay.ModelSpec` values, declared as data.
    - ``emulators``: :class:`reelay.emulation.EmulatorSpec` values for
      ``reelay demo`` and the end-to-end tests.

    Methods a subclass writes (each the hook of the same name with ``reelay_``
    in front, documented in :mod:`reelay.hookspecs`, called only for the
    vendor's own channels): ``build_payload``, ``async submit``,
    ``async fetch_status``, ``map_status``, ``async open_content`` (all a
    vendor needs), and where the vendor has them ``async cancel``,
    ``async remix``, ``validate_channel``, ``serves``.
    """

    vendor: ClassVar[VendorSpec]
    models: ClassVar[Sequence[ModelSpec]] = ()
    emulators: ClassVar[Sequence[EmulatorSpec]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "vendor" not in cls.__dict__ and not any("vendor" in base.__dict__ for base in cls.__mro__[1:-1]):
            raise TypeError(f"{cls.__name__} must set the class attribute 'vendor' to a VendorSpec")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} vendor={self.vendor.name!r}>"

    def _owns(self, channel: Channel) -> bool:
        return channel.vendor == self.vendor.name

    def _has(self, method: str) -> bool:
        """Whether the subclass wrote ``method`` (the base class writes none)."""
        return getattr(type(self), method, None) is not getattr(VendorPlugin, method, None)

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
        if not self._owns(channel) or not self._has("validate_channel"):
            return None
        return self.validate_channel(channel)

    @hookimpl
    def reelay_channel_serves(self, model: ModelSpec, channel: Channel) -> bool | None:
        if not self._owns(channel) or not self._has("serves"):
            return None
        return self.serves(model, channel)

    # ------------------------------------------------------------ the task's life

    @hookimpl
    def reelay_build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> Any | None:
        return self.build_payload(request, model, channel) if self._owns(channel) else None

    @hookimpl
    def reelay_submit(
        self, payload: Any, request: GenerationRequest, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        return self.submit(payload, request, channel, http) if self._owns(channel) else None

    @hookimpl
    def reelay_fetch_status(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[Any] | None:
        return self.fetch_status(task, channel, http) if self._owns(channel) else None

    @hookimpl
    def reelay_find_submission(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef | None] | None:
        if not self._owns(channel) or not self._has("find_submission"):
            return None
        return self.find_submission(task, channel, http)

    @hookimpl
    def reelay_map_status(self, payload: Any, task: Task, channel: Channel) -> StatusUpdate | None:
        return self.map_status(payload, task, channel) if self._owns(channel) else None

    @hookimpl
    def reelay_open_content(
        self, task: Task, channel: Channel, http: aiohttp.ClientSession, variant: str
    ) -> Awaitable[ContentSource] | None:
        return self.open_content(task, channel, http, variant) if self._owns(channel) else None

    @hookimpl
    def reelay_cancel(self, task: Task, channel: Channel, http: aiohttp.ClientSession) -> Awaitable[None] | None:
        if not self._owns(channel) or not self._has("cancel"):
            return None
        return self.cancel(task, channel, http)

    @hookimpl
    def reelay_remix(
        self, task: Task, prompt: str, channel: Channel, http: aiohttp.ClientSession
    ) -> Awaitable[VendorRef] | None:
        if not self._owns(channel) or not self._has("remix"):
            return None
        return self.remix(task, prompt, channel, http)

    # ------------------------------------------------------------ what a subclass writes

    def validate_channel(self, channel: Channel) -> list[str]:
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
