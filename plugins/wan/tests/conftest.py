from __future__ import annotations

import functools

import pytest

from reelay import Channel, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_wan import plugin
from reelay_wan.models import BY_NAME

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def answer(load_fixture):
    """``answer("succeeded")``: DashScope's recorded ``fixtures/wan-succeeded.json``."""
    return functools.partial(load_fixture, "wan")


@pytest.fixture
def channel():
    return Channel(name="ds", vendor="wan", base_url="https://ds.test", credentials={"api_key": "sk-ds"})


@pytest.fixture
def pm():
    return make_plugin_manager(load_entry_points=False, plugins=[plugin])


@pytest.fixture
def wan_request():
    return lambda model, **fields: normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec)
