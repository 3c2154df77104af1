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
from reelay_seedance import plugin
from reelay_seedance.models import BY_NAME

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    """``load_fixture("seedance-queued")``: a recorded Ark answer from ``fixtures/``."""
    return lambda name: json.loads(FIXTURES.joinpath(name + ".json").read_text())


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


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session
