from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from aioresponses import aioresponses

import reelay_veo
from reelay import Channel
from reelay.plugins import make_plugin_manager
from reelay_veo import auth
from reelay_veo.emulator import GEMINI_DEMO_CREDENTIALS, VERTEX_DEMO_CREDENTIALS

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mocked():
    with aioresponses() as mock:
        yield mock


@pytest.fixture
def fixture():
    def load(name: str):
        return json.loads((FIXTURES / f"veo-{name}.json").read_text())

    return load


@pytest.fixture
def pm():
    """Only this plugin, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_veo.plugin])


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(autouse=True)
def _fresh_tokens():
    auth.forget_tokens()
    yield
    auth.forget_tokens()


def gemini_channel(base_url: str = "", **overrides) -> Channel:
    values = {
        "name": "veo-gemini",
        "vendor": "veo",
        "base_url": base_url or auth.GEMINI_BASE_URL,
        "credentials": dict(GEMINI_DEMO_CREDENTIALS),
        "options": {"api": "gemini"},
    }
    values.update(overrides)
    return Channel(**values)


def vertex_channel(base_url: str = "", **overrides) -> Channel:
    values = {
        "name": "veo-vertex",
        "vendor": "veo",
        "base_url": base_url or auth.GEMINI_BASE_URL,  # the vendor default, as the core fills it in
        "credentials": dict(VERTEX_DEMO_CREDENTIALS),
        "options": {"api": "vertex"},
    }
    values.update(overrides)
    return Channel(**values)


@pytest.fixture(name="gemini_channel")
def _gemini_channel_factory():
    """Builds a Gemini channel: ``gemini_channel(base_url="", **overrides)``."""
    return gemini_channel


@pytest.fixture(name="vertex_channel")
def _vertex_channel_factory():
    """Builds a Vertex channel: ``vertex_channel(base_url="", **overrides)``."""
    return vertex_channel
