from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from reelay import Channel, GenerationRequest, UnifiedRequest
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay_hailuo import plugin
from reelay_hailuo.models import BY_NAME

RECORDED = Path(__file__).parent / "fixtures"


@pytest.fixture
def recorded() -> Callable[[str], Any]:
    """``recorded("success")``: the MiniMax answer in ``fixtures/hailuo-success.json``."""
    return lambda state: json.loads((RECORDED / f"hailuo-{state}.json").read_text())


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


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as session:
        yield session
