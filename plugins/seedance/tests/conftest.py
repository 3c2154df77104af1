from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
import pytest

from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_seedance import plugin
from reelay_seedance.models import BY_NAME

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def channel() -> Channel:
    return Channel(name="ark-test", vendor="seedance", base_url="https://ark.test", credentials={"api_key": "ark-k"})


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager holding only this plugin, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[plugin])


@pytest.fixture
def normalized() -> Callable[..., GenerationRequest]:
    def build(model: str, **fields: Any) -> GenerationRequest:
        return normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec, public_id="video_test")

    return build
