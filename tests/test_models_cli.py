"""``reelay models``: the models of a running gateway, from their ``x_reelay``."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
import structlog
from click.testing import CliRunner

from reelay.cli import cli
from reelay.testing import TEST_TOKEN


@pytest.fixture(autouse=True)
def quiet_gateway_logs():
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
    yield
    structlog.configure(**saved)


async def run(args, base_url):
    environment = {"REELAY_BASE_URL": base_url, "REELAY_API_KEY": TEST_TOKEN}
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=environment, catch_exceptions=False)


async def test_models_prints_what_each_model_accepts(gateway):
    result = await run(["models"], gateway.base_url)
    assert result.exit_code == 0, result.output
    assert "acme-1 (acme): text_to_video/image_to_video" in result.output
    assert "operations: cancel" in result.output and "duration: seconds > duration" in result.output
    result = await run(["models", "acme-still", "--json"], gateway.base_url)
    [entry] = json.loads(result.output)
    assert entry["id"] == "acme-still" and entry["x_reelay"]["capabilities"]["text_to_video"] is False
    result = await run(["models", "nope"], gateway.base_url)
    assert result.exit_code == 1 and "model_not_found" in result.output + (result.stderr or "")
