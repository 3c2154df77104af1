from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy
import pytest

import reelay_kling
from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_kling.models import BY_NAME

# Long enough for PyJWT's recommended HS256 key length; the emulator's demo key is not.
TEST_CREDENTIALS = {"access_key": "test-access-key", "secret_key": "test-secret-key-0123456789abcdefghij"}

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def channel() -> Channel:
    return Channel(name="kling-test", vendor="kling", base_url="https://kling.test", credentials=TEST_CREDENTIALS)


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A plugin manager holding only this plugin, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_kling.plugin])


@pytest.fixture
def normalized() -> Callable[..., GenerationRequest]:
    """``normalized("kling-v1", prompt=..., ...)``: a unified request through the core's normalize()."""

    def build(model: str, public_id: str = "video_test123", **fields: Any) -> GenerationRequest:
        return normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec, public_id=public_id)

    return build
