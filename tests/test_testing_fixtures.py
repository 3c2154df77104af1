"""reelay.testing.fixtures: the plugin authors' session, mocked HTTP and recorded answers."""

from __future__ import annotations

import aiohttp
from aioresponses import aioresponses

from reelay.testing.fixtures import http, load_fixture, mocked, read_fixture

__all__ = ["http", "load_fixture", "mocked"]  # the fixtures this module's tests take


def test_load_fixture_reads_vendor_and_state_from_the_tests_fixtures_folder(load_fixture):
    assert load_fixture("acme", "done") == {"state": "done", "file": "https://acme.test/v.mp4"}
    assert load_fixture("acme-done") == load_fixture("acme", "done")  # a whole name reads the same file


def test_read_fixture_names_files_after_vendor_and_state(tmp_path):
    (tmp_path / "acme-queued.json").write_text('{"state": "waiting"}')
    assert read_fixture(tmp_path, "acme", "queued") == {"state": "waiting"}


async def test_mocked_answers_the_sessions_calls(mocked, http):
    assert isinstance(mocked, aioresponses) and isinstance(http, aiohttp.ClientSession)
    mocked.get("https://acme.test/v1/jobs/j1", payload={"state": "done"})
    async with http.get("https://acme.test/v1/jobs/j1") as response:
        assert await response.json() == {"state": "done"}
