from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pluggy
import pytest
from aioresponses import aioresponses

from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay_runway import RunwayPlugin
from reelay_runway.models import BY_NAME

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://runway.test"


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    return load


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


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session
