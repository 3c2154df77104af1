"""pytest fixtures for a vendor plugin's unit tests: a client session, mocked HTTP, recorded answers.

Enable them in the conftest at the top of a plugin's tests::

    pytest_plugins = ["reelay.testing.fixtures"]

pytest refuses ``pytest_plugins`` in a conftest below the top of a run (the
plugins of Reelay's own monorepo are collected from its root), so there the
conftest imports the fixtures instead::

    from reelay.testing.fixtures import http, load_fixture, mocked

- ``http``: an :class:`aiohttp.ClientSession`, closed after the test.
- ``mocked``: :class:`aioresponses.aioresponses` (the vendor's HTTP, mocked).
- ``load_fixture``: :func:`load_fixture` for the test's own ``fixtures/`` folder.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

__all__ = ["http", "load_fixture", "mocked", "read_fixture"]


def read_fixture(folder: Path, vendor: str, state: str | None = None) -> Any:
    """The recorded vendor answer ``<folder>/<vendor>-<state>.json``, decoded.

    Fixture files are named after the vendor and the state they record
    (``acme-done.json``, ``acme-error-not-found.json``). A whole name
    without ``state`` (``read_fixture(folder, "acme-done")``) reads the
    same file.
    """
    name = vendor if state is None else f"{vendor}-{state}"
    return json.loads((folder / f"{name}.json").read_text())


@pytest.fixture
def load_fixture(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``load_fixture("acme", "done")``: ``fixtures/acme-done.json`` beside the test module."""
    folder = Path(request.path).parent / "fixtures"

    def load(vendor: str, state: str | None = None) -> Any:
        return read_fixture(folder, vendor, state)

    return load


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    """aioresponses for the length of the test: ``mocked.get(url, payload=...)``."""
    with aioresponses() as mock:
        yield mock


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for the plugin's calls, closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session
