"""reelay-wan is registered in the ``reelay`` entry-point group with its catalogue."""

from __future__ import annotations

from importlib import metadata

import reelay_wan
from reelay.plugins import Registry, make_plugin_manager


def test_entry_point():
    (point,) = metadata.entry_points(group="reelay", name="wan")
    assert (point.value, point.dist.name, point.load()) == ("reelay_wan:plugin", "reelay-wan", reelay_wan.plugin)


def test_registry(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "wan")
    registry = Registry.collect(make_plugin_manager())
    assert {m.vendor for m in registry.models.values()} == {"wan"} and "wan2.6-t2v" in registry.models
    assert registry.vendors["wan"].can_cancel and sorted(e.label for e in registry.emulators) == ["wan-cn", "wan-intl"]
    monkeypatch.delenv("REELAY_PLUGINS")
    everything = Registry.collect(make_plugin_manager())
    assert all(everything.models[m.name].vendor == "wan" for m in reelay_wan.MODELS)
