"""The installed distribution is found through the ``reelay`` entry-point group."""

from __future__ import annotations

from importlib import metadata

import reelay_runway
from reelay import InputKind
from reelay.plugins import Registry, make_plugin_manager

RUNWAY_MODELS = {"gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast"}


def test_entry_point_names_the_plugin_instance():
    (entry_point,) = [ep for ep in metadata.entry_points(group="reelay") if ep.name == "runway"]
    assert entry_point.value == "reelay_runway:plugin"
    assert entry_point.dist.name == "reelay-runway"
    assert entry_point.load() is reelay_runway.plugin
    assert metadata.version("reelay-runway") == reelay_runway.__version__


def test_plugin_manager_discovers_runway(monkeypatch):
    monkeypatch.setenv("REELAY_PLUGINS", "runway")
    registry = Registry.collect(make_plugin_manager())
    assert set(registry.models) == RUNWAY_MODELS
    vendor = registry.vendors["runway"]
    assert vendor.default_base_url == "https://api.dev.runwayml.com"
    assert [c.name for c in vendor.credentials] == ["api_key"]
    assert vendor.can_cancel
    assert [e.vendor for e in registry.emulators] == ["runway"]


def test_names_do_not_collide_with_the_other_plugins(monkeypatch):
    monkeypatch.delenv("REELAY_PLUGINS", raising=False)
    registry = Registry.collect(make_plugin_manager())  # the registry refuses a name registered twice
    assert {m.name for m in registry.models_of("runway")} == RUNWAY_MODELS


def test_models_are_data():
    registry = Registry.collect(make_plugin_manager(load_entry_points=False, plugins=[reelay_runway.RunwayPlugin()]))
    gen45 = registry.models["gen4.5"]
    assert gen45.durations == tuple(range(2, 11))
    assert gen45.sizes == ("1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672")
    assert gen45.rules_for(InputKind.TEXT).sizes == ("1280:720", "720:1280")  # text-to-video: two ratios
    assert gen45.rules_for(InputKind.IMAGE).prompt_required and gen45.max_prompt_chars == 1000
    assert gen45.image_rules.https_domain and gen45.image_rules.types == ("image/jpeg", "image/png", "image/webp")
    assert not registry.models["gen4_turbo"].capabilities.text_to_video
    veo = registry.models["veo3.1"]
    assert veo.durations == (4, 6, 8) and veo.capabilities.end_frame
    assert veo.metadata_fields == ("audio", "negativePrompt")
    assert gen45.precedence.describe(gen45.capabilities)
