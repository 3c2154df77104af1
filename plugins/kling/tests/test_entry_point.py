"""The installed distribution is found through the ``reelay`` entry-point group."""

from __future__ import annotations

from importlib import metadata

import reelay_kling
from reelay.plugins import Registry, make_plugin_manager, plugin_distributions

KLING_MODELS = {
    "kling-v1",
    "kling-v1-5",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
}


def test_entry_point_is_declared():
    (entry_point,) = [ep for ep in metadata.entry_points(group="reelay") if ep.name == "kling"]
    assert entry_point.value == "reelay_kling:plugin"
    assert entry_point.dist.name == "reelay-kling"
    assert entry_point.load() is reelay_kling.plugin


def test_plugin_manager_discovers_kling(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "kling")  # only this plugin, whatever else is installed
    pm = make_plugin_manager()
    registry = Registry.collect(pm)
    assert set(registry.models) >= KLING_MODELS
    assert {m.name for m in registry.models_of("kling")} == set(registry.models)
    vendor = registry.vendors["kling"]
    assert vendor.title == "Kling (Kuaishou)"
    assert vendor.default_base_url == "https://api-singapore.klingai.com"
    assert [c.name for c in vendor.credentials] == ["access_key", "secret_key"]
    assert [e.vendor for e in registry.emulators] == ["kling"]
    assert pm.get_plugin("kling") is reelay_kling.plugin
    assert metadata.version("reelay-kling") == reelay_kling.__version__


def test_distribution_is_listed_when_loaded_from_the_group(monkeypatch):
    monkeypatch.delenv("REELAY_PLUGINS", raising=False)
    pm = make_plugin_manager()
    assert ("kling", "reelay-kling", reelay_kling.__version__) in plugin_distributions(pm)


def test_allow_list_can_leave_kling_out(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "")  # an allow-list without kling (a name not installed is an error)
    registry = Registry.collect(make_plugin_manager())
    assert not KLING_MODELS & set(registry.models)


def test_model_specs_are_data():
    registry = Registry.collect(make_plugin_manager(load_entry_points=False, plugins=[reelay_kling.plugin]))
    for name in KLING_MODELS:
        spec = registry.models[name]
        assert spec.durations == (5, 10)
        assert spec.sizes == ("16:9", "9:16", "1:1")
        assert spec.precedence.duration_sources == ("duration", "seconds")
        assert spec.precedence.image_sources == ("image", "input_reference", "images")
        assert spec.precedence.size_on_image_to_video is False
        assert spec.precedence.protected_fields == ("model_name", "model", "external_task_id")
        assert "style" not in spec.metadata_fields
        assert spec.precedence.describe()
