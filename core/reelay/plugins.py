"""Plugin loading and the registry of vendors, models and emulators.

Third-party plugins come through the ``reelay`` entry-point group.
``REELAY_PLUGINS`` (comma-separated entry-point names) is an allow-list: a
name no installed package provides is an error naming the installed ones.
``REELAY_TRACE_HOOKS=1`` prints every hook call with its arguments and result.
A plugin that fails to import, or implements a hook that does not exist,
is a :class:`PluginError` naming it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .emulation import EmulatorSpec
from .models import ModelSpec, Task, VendorSpec

#: Built-in plugins, loaded like third-party ones (none yet: vendors ship separately).
DEFAULT_PLUGINS: tuple[str, ...] = ()

ENTRY_POINT_GROUP = "reelay"


class PluginError(Exception):
    """A plugin cannot be loaded, or ``REELAY_PLUGINS`` names one that is not installed."""


def installed_plugin_names() -> list[str]:
    """The entry-point names of the installed plugins (what ``REELAY_PLUGINS`` may list), sorted."""
    return sorted({entry.name for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})


def allowed_plugin_names(installed: Iterable[str]) -> list[str]:
    """The plugins ``REELAY_PLUGINS`` lets load (all of ``installed`` when it is unset).

    :raises PluginError: it names a plugin that is not installed.
    """
    installed = sorted(installed)
    allowed = os.environ.get("REELAY_PLUGINS")
    if allowed is None:
        return installed
    names = list(dict.fromkeys(name.strip() for name in allowed.split(",") if name.strip()))
    unknown = [name for name in names if name not in installed]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise PluginError(
            f"REELAY_PLUGINS names {listed}, which {'is' if len(unknown) == 1 else 'are'} not installed"
            f" (installed: {', '.join(installed) or 'none'}; unset REELAY_PLUGINS to load them all)"
        )
    return names


def make_plugin_manager(*, load_entry_points: bool = True, plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with the hookspecs and the installed plugins.

    :raises PluginError: a plugin fails to load or implements an unknown hook,
        or ``REELAY_PLUGINS`` names a plugin that is not installed.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name)
    if load_entry_points:
        for name in allowed_plugin_names(installed_plugin_names()):
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name)
            except Exception as error:  # an import error, a bad hook signature...: whatever the plugin raised
                raise PluginError(f"plugin {name!r} failed to load: {type(error).__name__}: {error}") from error
            _check_pending(pm, name)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    if os.environ.get("REELAY_TRACE_HOOKS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def _check_pending(pm: pluggy.PluginManager, name: str) -> None:
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(f"plugin {name!r} is invalid: {error}") from error


F = TypeVar("F", bound=Callable[..., Any])


def for_vendor(vendor: str) -> Callable[[F], F]:
    """Make a hook implementation answer only for channels of ``vendor``.

    For the "who owns this?" hooks, which all take a ``channel``: the
    implementation runs for ``vendor``'s channels and answers None for the
    rest. Put it under ``@hookimpl``::

        @hookimpl
        @for_vendor("acme")
        def reelay_submit(payload, request, channel, http): ...
    """

    def decorate(function: F) -> F:
        names = list(inspect.signature(function).parameters)
        if "channel" not in names:
            raise TypeError(f"{function.__name__} takes no channel argument to tell its vendor by")
        position = names.index("channel")

        @functools.wraps(function)  # pluggy reads the argument names through __wrapped__
        def for_this_vendor(*args: Any, **kwargs: Any) -> Any:
            channel = kwargs["channel"] if "channel" in kwargs else args[position]
            if channel.vendor != vendor:
                return None
            return function(*args, **kwargs)

        return for_this_vendor  # type: ignore[return-value]

    return decorate


class RegistryError(PluginError):
    """Two plugins registered the same name, or a model names an unknown vendor."""


def qualified_name(model: ModelSpec) -> str:
    """``vendor/model``: the name that means this model whatever else is installed."""
    return f"{model.vendor}/{model.name}"


@attrs.define
class Registry:
    """Everything the installed plugins registered, by name.

    Two vendors may register the same model name (the same underlying model
    sold by both). Each model is always reachable by its qualified name
    ``vendor/model`` (:attr:`specs`); a bare name (or model alias) that
    several vendors register is *ambiguous* (:attr:`ambiguous` lists its
    vendors) and is keyed by its qualified names in :attr:`models`: which of
    them the bare name means is the configuration's to say
    (:func:`reelay.config.bare_names`).

    :ivar specs: every model by its qualified name.
    :ivar models: every model once, by its key: the bare name where only one
        vendor registers it, else its qualified name. Tasks record this key.
    :ivar aliases: unambiguous model aliases (such as dated snapshots) -> key.
    :ivar ambiguous: bare names and aliases registered by several vendors -> those vendors.
    """

    vendors: dict[str, VendorSpec] = attrs.field(factory=dict)
    specs: dict[str, ModelSpec] = attrs.field(factory=dict)
    models: dict[str, ModelSpec] = attrs.field(factory=dict)
    aliases: dict[str, str] = attrs.field(factory=dict)
    ambiguous: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    emulators: list[EmulatorSpec] = attrs.field(factory=list)

    @classmethod
    def collect(cls, pm: pluggy.PluginManager) -> Registry:
        registry = cls()
        pm.hook.reelay_register_vendors(register=registry.add_vendor)
        pm.hook.reelay_register_models(register=registry.add_model)
        pm.hook.reelay_register_emulators(register=registry.emulators.append)
        for model in registry.specs.values():
            if model.vendor not in registry.vendors:
                raise RegistryError(f"model {model.name!r} names vendor {model.vendor!r}, which no plugin registered")
        return registry

    def add_vendor(self, vendor: VendorSpec) -> None:
        if vendor.name in self.vendors:
            raise RegistryError(f"vendor {vendor.name!r} is registered twice")
        if "/" in vendor.name:
            raise RegistryError(f"vendor {vendor.name!r}: a vendor name cannot contain '/'")
        self.vendors[vendor.name] = vendor

    def add_model(self, model: ModelSpec) -> None:
        """Register ``model``; a name its own vendor already registered is an error, another vendor's is not."""
        for name in (model.name, *model.aliases):
            if "/" in name:
                raise RegistryError(f"model {name!r}: a model name cannot contain '/' (it qualifies names by vendor)")
            if self.find(name, model.vendor) is not None:
                raise RegistryError(f"model {name!r} is registered twice by vendor {model.vendor!r}")
        self.specs[qualified_name(model)] = model
        self._index()

    def _index(self) -> None:
        owners: dict[str, list[ModelSpec]] = {}
        for spec in self.specs.values():
            for name in (spec.name, *spec.aliases):
                owners.setdefault(name, []).append(spec)
        self.ambiguous = {
            name: tuple(sorted(spec.vendor for spec in specs)) for name, specs in owners.items() if len(specs) > 1
        }
        self.models = {self.key_of(spec): spec for spec in self.specs.values()}
        self.aliases = {
            name: self.key_of(specs[0]) for name, specs in owners.items() if len(specs) == 1 and name != specs[0].name
        }

    def key_of(self, model: ModelSpec) -> str:
        """The model's key in :attr:`models` (what a task records)."""
        return qualified_name(model) if model.name in self.ambiguous else model.name

    def model(self, name: str) -> ModelSpec | None:
        """The model a name means: a qualified ``vendor/model`` (or ``vendor/alias``),
        an unambiguous bare name or alias; None for unknown and ambiguous bare names."""
        vendor, slash, bare = name.partition("/")
        if slash:
            return self.find(bare, vendor)
        found = self.models.get(name)
        if found is None and name in self.aliases:
            found = self.models[self.aliases[name]]
        return found

    def find(self, name: str, vendor: str) -> ModelSpec | None:
        """``vendor``'s model called ``name`` (its name, an alias, or its qualified name)."""
        if name.startswith(vendor + "/"):
            name = name[len(vendor) + 1 :]
        found = self.specs.get(f"{vendor}/{name}")
        if found is None:
            found = next((m for m in self.specs.values() if m.vendor == vendor and name in m.aliases), None)
        return found

    def spec_of(self, task: Task) -> ModelSpec | None:
        """The model a task records (by its key, or its vendor's name for it if the key changed since)."""
        return self.models.get(task.model) or self.find(task.model, task.vendor)

    def models_of(self, vendor: str) -> list[ModelSpec]:
        return [model for model in self.specs.values() if model.vendor == vendor]


def plugin_distributions(pm: pluggy.PluginManager) -> list[tuple[str, str, str]]:
    """``(plugin name, distribution, version)`` for each plugin loaded from a package."""
    rows = []
    for plugin, dist in pm.list_plugin_distinfo():
        rows.append((pm.get_name(plugin) or "?", dist.metadata["name"], dist.version))
    return rows
