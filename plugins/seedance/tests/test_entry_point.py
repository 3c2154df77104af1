"""The installed distribution is found through the ``reelay`` entry-point group."""

from __future__ import annotations

from importlib import metadata

import reelay_seedance
from reelay.plugins import Registry, make_plugin_manager, plugin_distributions


def test_entry_point_is_declared():
    (entry_point,) = [ep for ep in metadata.entry_points(group="reelay") if ep.name == "seedance"]
    assert entry_point.value == "reelay_seedance:plugin"
    assert entry_point.dist.name == "reelay-seedance"
    assert entry_point.load() is reelay_seedance.plugin


def test_plugin_manager_discovers_seedance(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "seedance")
    registry = Registry.collect(make_plugin_manager())
    vendor = registry.vendors["seedance"]
    assert vendor.default_base_url == "https://ark.cn-beijing.volces.com" and vendor.can_cancel
    assert [c.name for c in vendor.credentials] == ["api_key"] and "region" in vendor.options
    assert {m.name for m in registry.models_of("seedance")} == set(registry.models)
    assert "doubao-seedance-1-0-pro-250528" in registry.models and "seedance-1-0-pro-250528" in registry.models
    assert sorted(e.label for e in registry.emulators) == ["seedance-cn", "seedance-intl"]
    assert metadata.version("reelay-seedance") == reelay_seedance.__version__


def test_distribution_is_listed():
    pm = make_plugin_manager()
    assert ("seedance", "reelay-seedance", reelay_seedance.__version__) in plugin_distributions(pm)


def test_no_name_collides_with_another_installed_plugin(monkeypatch):
    monkeypatch.delenv("REELAY_PLUGINS", raising=False)
    registry = Registry.collect(make_plugin_manager())
    ours = {model.name for model in reelay_seedance.plugin.models}
    assert {registry.models[name].vendor for name in ours} == {"seedance"}


def test_model_specs_are_data():
    for spec in reelay_seedance.plugin.models:
        assert spec.vendor == "seedance" and spec.durations and spec.sizes
        assert spec.precedence.duration_sources == ("duration", "seconds")
        assert spec.precedence.protected_fields == ("model", "content")
        assert "resolution" in spec.metadata_fields and spec.precedence.describe(spec.capabilities)
