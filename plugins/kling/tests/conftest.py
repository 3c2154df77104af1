from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from aioresponses import aioresponses

import reelay_kling
from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay_kling.models import BY_NAME

FIXTURES = Path(__file__).parent / "fixtures"

# Long enough for PyJWT's recommended HS256 key length; the emulator's demo key is not.
TEST_CREDENTIALS = {"access_key": "test-access-key", "secret_key": "test-secret-key-0123456789abcdefghij"}


@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    def load(name: str) -> Any:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    return load


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


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses, working on the installed aiohttp."""
    with aioresponses() as mock:
        yield mock
