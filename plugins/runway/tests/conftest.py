from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
import pytest

from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_runway import RunwayPlugin
from reelay_runway.models import BY_NAME

BASE = "https://runway.test"

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def channel() -> Channel:
    return Channel(name="runway-test", vendor="runway", base_url=BASE, credentials={"api_key": "key_test"})


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager holding only this plugin, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[RunwayPlugin()])


@pytest.fixture
def normalized() -> Callable[..., GenerationRequest]:
    """``normalized("gen4.5", prompt=..., ...)``: a unified request through the core's normalize()."""

    def build(model: str, **fields: Any) -> GenerationRequest:
        return normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec, public_id="video_test123")

    return build
