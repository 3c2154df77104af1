"""reelay-luma is found through the ``reelay`` entry-point group."""

from __future__ import annotations

from importlib import metadata

import reelay_luma
from reelay.plugins import Registry, make_plugin_manager


def test_the_entry_point_loads_the_plugin_object():
    (found,) = [ep for ep in metadata.entry_points(group="reelay") if ep.name == "luma"]
    assert (found.value, found.dist.name) == ("reelay_luma:plugin", "reelay-luma")
    assert found.load() is reelay_luma.plugin
    assert metadata.version("reelay-luma") == reelay_luma.__version__


def test_discovered_with_its_models_and_emulator(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "luma")
    registry = Registry.collect(make_plugin_manager())
    assert sorted(registry.models) == ["ray-2", "ray-flash-2"]
    luma = registry.vendors["luma"]
    assert luma.default_base_url == "https://api.lumalabs.ai" and luma.can_cancel
    assert [e.vendor for e in registry.emulators] == ["luma"]
    spec = registry.models["ray-2"]
    assert spec.sizes == ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21") and spec.durations == (5, 9)
    assert spec.metadata_fields == ("resolution", "loop", "concepts")
