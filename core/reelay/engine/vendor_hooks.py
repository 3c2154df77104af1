"""The vendor hooks as called for one channel: without the other vendors' plugins.

A vendor hook (payloads, submission, status, content, cancel...) is about one
channel, and every :class:`~reelay.vendor.VendorPlugin` of another vendor
answers it with None. Through ``pm.hook`` each call visits every installed
plugin (4.9 us a call with eight plugins installed, against 2.5 us for one,
measured here), so the cost of each submission and poll would grow with every
vendor package installed beside the one serving it.
"""

from __future__ import annotations

from typing import Any

import pluggy

from ..vendor import VendorPlugin


class VendorHooks:
    """``hooks.of(vendor).reelay_submit(...)``: pluggy's subset hook callers
    (:meth:`pluggy.PluginManager.subset_hook_caller`) leaving out the
    :class:`VendorPlugin` instances of other vendors. Every other plugin, and any
    hook wrapper, is still called, so a hand-written hookimpl sees every call.
    """

    def __init__(self, pm: pluggy.PluginManager):
        self._pm = pm
        self._relays: dict[str, _Relay] = {}

    def of(self, vendor: str) -> Any:
        """The hook relay for ``vendor``'s channels (attributes named as in :mod:`reelay.hookspecs`)."""
        relay = self._relays.get(vendor)
        if relay is None:
            others = [
                plugin
                for plugin in self._pm.get_plugins()
                if isinstance(plugin, VendorPlugin) and plugin.vendor.name != vendor
            ]
            relay = self._relays[vendor] = _Relay(self._pm, others)
        return relay


class _Relay:
    """Hook callers made on first use; a plugin registered later is still called
    (a subset caller reads the hook's implementations at each call)."""

    def __init__(self, pm: pluggy.PluginManager, others: list[object]):
        self._pm = pm
        self._others = others

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("reelay_"):
            raise AttributeError(name)
        caller = self._pm.subset_hook_caller(name, self._others) if self._others else getattr(self._pm.hook, name)
        setattr(self, name, caller)
        return caller
