from __future__ import annotations

import functools

import pytest

import reelay_veo
from reelay import Channel
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_veo import auth
from reelay_veo.emulator import GEMINI_DEMO_CREDENTIALS, VERTEX_DEMO_CREDENTIALS

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def fixture(load_fixture):
    """``fixture("gemini-completed")``: ``fixtures/veo-gemini-completed.json``."""
    return functools.partial(load_fixture, "veo")


@pytest.fixture
def pm():
    """Only this plugin, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_veo.plugin])


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
