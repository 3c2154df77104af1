"""Secrets stay secret: tokens, vendor keys and image bodies never reach the logs."""

import base64
import json

import structlog
from acme_gateway import ACME_KEY, acme_gateway

from reelay.emulation import sample_asset
from reelay.logs import configure_logging, redact_values, scrub, scrub_text
from reelay.testing import TEST_TOKEN


def test_scrub_redacts_secret_keys_and_scrub_text_bearer_values_and_long_base64():
    event = scrub(None, "info", {"api_key": "k", "API_KEY": "k", "msg": "Authorization: Bearer abc.def"})
    assert event["api_key"] == event["API_KEY"] == "[redacted]"
    line = scrub_text(json.dumps(event | {"blob": "A" * 300, "short": "B" * 199}))
    assert "abc.def" not in line and "Bearer [redacted]" in line
    assert '"blob": "[base64 omitted]"' in line and "B" * 199 in line


def test_a_configured_value_is_redacted_as_rendered_plain_json_escaped_or_repr():
    secret = 'sk-"quoted\\slash'
    redact_values([secret])
    for rendered in (secret, json.dumps(secret), repr(secret)):
        assert "quoted" not in scrub_text(f"event=x value={rendered} after")


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
