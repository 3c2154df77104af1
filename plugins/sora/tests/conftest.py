from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from reelay import Channel, Task, VendorRef

FIXTURES = Path(__file__).parent / "fixtures"
BASE_URL = "https://sora.example"
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def fixture() -> Callable[[str], Any]:
    """Load ``tests/fixtures/<name>.json``."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / f"{name}.json").read_text())

    return load


@pytest.fixture
def channel() -> Channel:
    return Channel(name="sora-a", vendor="sora", base_url=BASE_URL, credentials={"api_key": API_KEY})


@pytest.fixture
def make_task() -> Callable[..., Task]:
    def make(video_id: str | None = "video_abc", **values: Any) -> Task:
        values.setdefault("model", "sora-2")
        return Task(
            id="video_public",
            owner="tester",
            vendor="sora",
            channel="sora-a",
            vendor_ref=VendorRef(video_id) if video_id else None,
            **values,
        )

    return make


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses on the installed aiohttp."""
    with aioresponses() as mock:
        yield mock
