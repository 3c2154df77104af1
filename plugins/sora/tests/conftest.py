from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reelay import Channel, Task, VendorRef
from reelay.testing.fixtures import http, load_fixture, mocked

BASE_URL = "https://sora.example"
API_KEY = "sk-test-0123456789abcdef"

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def fixture(load_fixture) -> Callable[[str], Any]:
    """Load ``tests/fixtures/<name>.json``."""
    return load_fixture


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
