from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import aioresponses.core as aioresponses_core
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
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_kling])


@pytest.fixture
def normalized() -> Callable[..., GenerationRequest]:
    """``normalized("kling-v1", prompt=..., ...)``: a unified request through the core's normalize()."""

    def build(model: str, public_id: str = "video_test123", **fields: Any) -> GenerationRequest:
        return normalize(UnifiedRequest(model=model, **fields), BY_NAME[model].spec, public_id=public_id)

    return build


class _SentRequestWriter:
    """Stands in for the stream writer of a request aioresponses never sent."""

    output_size = 0


class _MockedResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without the ``stream_writer`` aiohttp 3.13+ requires."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentRequestWriter())
        super().__init__(*args, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, working on the installed aiohttp."""
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _MockedResponse)
    with aioresponses() as mock:
        yield mock
