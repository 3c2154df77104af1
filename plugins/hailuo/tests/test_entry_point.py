"""reelay-hailuo is found through the ``reelay`` entry-point group, its models as data."""

from __future__ import annotations

from importlib import metadata

import reelay_hailuo
from reelay.plugins import Registry, make_plugin_manager


def test_the_entry_point_names_the_plugin_object():
    found = {ep.name: ep for ep in metadata.entry_points(group="reelay")}
    assert found["hailuo"].value == "reelay_hailuo:plugin" and found["hailuo"].dist.name == "reelay-hailuo"
    assert found["hailuo"].load() is reelay_hailuo.plugin


def test_discovered_with_the_allow_list(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "hailuo")
    registry = Registry.collect(make_plugin_manager())
    assert set(registry.models) == {m.name for m in reelay_hailuo.MODELS}
    spec = registry.vendors["hailuo"]
    assert (spec.default_base_url, spec.can_cancel, list(spec.options)) == ("https://api.minimax.io", False, ["region"])


def test_names_are_hailuos_own_everywhere(monkeypatch):
    monkeypatch.delenv("REELAY_PLUGINS", raising=False)
    registry = Registry.collect(make_plugin_manager())
    assert all(registry.models[m.name].vendor == "hailuo" for m in reelay_hailuo.MODELS)


def test_duration_rules_are_declared():
    spec = reelay_hailuo.plugin.models[0]
    assert spec.durations == (6, 10) and spec.duration_rules[0].allowed == (6,)
    assert spec.duration_rules[0].sizes == ("1920x1080",)
    assert spec.metadata_fields == ("prompt_optimizer", "fast_pretreatment", "callback_url", "aigc_watermark")
