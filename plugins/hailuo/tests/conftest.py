from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_hailuo import plugin
from reelay_hailuo.models import BY_NAME

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def recorded(load_fixture) -> Callable[[str], Any]:
    """``recorded("success")``: the MiniMax answer in ``fixtures/hailuo-success.json``."""
    return functools.partial(load_fixture, "hailuo")


@pytest.fixture
def channel() -> Channel:
    return Channel(name="mm", vendor="hailuo", base_url="https://mm.test", credentials={"api_key": "mm-k"})


@pytest.fixture
def pm():
    return make_plugin_manager(load_entry_points=False, plugins=[plugin])


@pytest.fixture
def request_for() -> Callable[..., GenerationRequest]:
    def build(model: str, **fields: Any) -> GenerationRequest:
        return normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec, public_id="video_h")

    return build
