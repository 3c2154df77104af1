"""Secrets stay secret: tokens, vendor keys and image bodies never reach the logs."""

import base64
import json

import structlog
from acme_gateway import ACME_KEY, acme_gateway

from reelay.emulation import sample_asset
from reelay.logs import configure_logging, scrub
from reelay.testing import TEST_TOKEN


def test_scrub_redacts_secret_keys_and_bearer_values():
    event = scrub(None, "info", {"api_key": "k", "msg": "Authorization: Bearer abc.def", "blob": "A" * 300})
    assert event["api_key"] == "[redacted]"
    assert "abc.def" not in event["msg"]
    assert event["blob"] == "[base64 omitted]"


async def test_a_whole_task_logs_no_secret(acme_pm, tmp_path, capsys):
    configure_logging("json", "debug")
    try:
        image = "data:image/png;base64," + base64.b64encode(sample_asset("sample.png")).decode()
        async with acme_gateway(acme_pm, tmp_path, generation_seconds=0.1) as gw:
            _, task = await gw.client.submit(model="acme-1", prompt="fox", image=image)
            await gw.client.wait(task["id"])
            await gw.client.content(task["id"])
            await gw.client.submit(model="acme-1", prompt="x", image="not base64!")
            await gw.client.request("GET", "/v1/models", headers={"Authorization": "Bearer wrong-secret-token"})
        logged = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "task accepted" for line in lines)
    assert all("request_id" in line for line in lines if line.get("event") == "request")
    for secret in (TEST_TOKEN, ACME_KEY, "wrong-secret-token", image[30:90]):
        assert secret not in logged
