"""Per-token rpm on the create routes: 429 rate_limit_exceeded with Retry-After."""

from __future__ import annotations

import acme
import pytest

from reelay.config import ConfigError, hash_key, parse_config
from reelay.emulation import serve_app
from reelay.models import Channel, Token
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, gateway_config, running_gateway

FREE = "sk-unlimited-token-1"


async def test_rpm_limits_creates_per_token(acme_pm, tmp_path):
    settings = Registry.collect(acme_pm).emulators[0].settings(generation_seconds=30)
    async with serve_app(acme.create_emulator(settings)) as url:
        channel = Channel(name="main", vendor="acme", base_url=url, credentials={"api_key": "acme-test-key-123"})
        tokens = (
            Token(name="tester", key_sha256=hash_key(TEST_TOKEN), rpm=2),
            Token(name="free", key_sha256=hash_key(FREE)),
        )
        config = gateway_config([channel], tmp_path, tokens=tokens)
        async with running_gateway(config, pm=acme_pm) as gw:
            status, first = await gw.client.submit(model="acme-1", prompt="fox")
            assert status == 200
            status, _ = await gw.client.request("POST", "/v1/videos", json={"model": "acme-1", "prompt": "fox"})
            assert status == 200  # the OpenAI create route counts too
            async with gw.client.http.post(
                gw.base_url + "/v1/video/generations",
                json={"model": "acme-1", "prompt": "fox"},
                headers=gw.client.headers,
            ) as response:
                body = await response.json()
                assert response.status == 429
                assert 1 <= int(response.headers["Retry-After"]) <= 60
            assert body["error"]["code"] == "rate_limit_exceeded"
            assert set(body["error"]) == {"message", "type", "code", "param"}
            assert (await gw.client.get(first["id"]))["id"] == first["id"]  # reads are not limited
            status, _ = await gw.client.request(
                "POST",
                "/v1/video/generations",
                json={"model": "acme-1", "prompt": "fox"},
                headers={"Authorization": f"Bearer {FREE}"},
            )
            assert status == 200  # another token has its own window (none here)
            async with gw.client.http.get(gw.base_url + "/metrics") as response:
                assert "reelay_rate_limited_total 1.0" in await response.text()


@pytest.mark.parametrize("rpm", [0, -1, 1.5, True, "10"])
def test_rpm_must_be_a_positive_whole_number(rpm):
    with pytest.raises(ConfigError) as raised:
        parse_config({"tokens": [{"name": "t", "key": TEST_TOKEN, "rpm": rpm}]})
    assert "rpm" in str(raised.value)


def test_rpm_is_read():
    config = parse_config({"tokens": [{"name": "t", "key": TEST_TOKEN, "rpm": 30}]})
    assert config.tokens[0].rpm == 30
