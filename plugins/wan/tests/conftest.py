from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from reelay import Channel, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay_wan import plugin
from reelay_wan.models import BY_NAME

HERE = Path(__file__).parent


@pytest.fixture
def answer():
    """``answer("succeeded")``: DashScope's recorded ``fixtures/wan-succeeded.json``."""

    def read(state: str) -> Any:
        return json.loads((HERE / "fixtures" / f"wan-{state}.json").read_text())

    return read


@pytest.fixture
def channel():
    return Channel(name="ds", vendor="wan", base_url="https://ds.test", credentials={"api_key": "sk-ds"})


@pytest.fixture
def pm():
    return make_plugin_manager(load_entry_points=False, plugins=[plugin])


@pytest.fixture
def wan_request():
    return lambda model, **fields: normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec)


@pytest.fixture
def mocked():
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session
