"""The admin API: channel health, disable/enable, every token's tasks; absent without a key."""

from __future__ import annotations

import asyncio
import io
import json

import structlog
from acme_gateway import OTHER_TOKEN, acme_gateway
from click.testing import CliRunner

from reelay.cli import cli
from reelay.config import AdminConfig
from reelay.testing import TEST_TOKEN

ADMIN_KEY = "admin-secret-key-0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def call(gw, method, path, headers=ADMIN, **kwargs):
    return await gw.client.request(method, path, headers=headers, **kwargs)


async def test_admin_routes_are_absent_without_a_key(gateway):
    status, body = await call(gateway, "GET", "/admin/channels")
    assert status == 404 and body["error"]["code"] == "route_not_found"


async def test_admin_refuses_callers_tokens(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, admin=AdminConfig(key=ADMIN_KEY)) as gw:
        for headers in ({}, {"Authorization": f"Bearer {TEST_TOKEN}"}, {"Authorization": "Bearer nope"}):
            # The test client adds the caller's token when no header is given: it is refused too.
            status, body = await call(gw, "GET", "/admin/tasks", headers=headers)
            assert status == 401, body
            assert set(body["error"]) == {"message", "type", "code", "param"}


async def test_channels_disable_enable(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, admin=AdminConfig(key=ADMIN_KEY)) as gw:
        status, body = await call(gw, "GET", "/admin/channels")
        assert status == 200
        main = next(row for row in body["data"] if row["name"] == "acme-main")
        assert main["state"] == "closed" and main["healthy"] and main["in_flight"] == 0

        status, row = await call(gw, "POST", "/admin/channels/acme-main/disable")
        assert status == 200 and row["state"] == "disabled" and row["reason"] == "disabled by an operator"
        status, body = await gw.client.submit(model="acme-1", prompt="fox")
        assert status == 503 and body["error"]["code"] == "no_channel_available"

        status, row = await call(gw, "POST", "/admin/channels/acme-main/enable")
        assert status == 200 and row["state"] == "closed"
        status, _ = await gw.client.submit(model="acme-1", prompt="fox")
        assert status == 200
        _, body = await call(gw, "GET", "/admin/channels")
        assert next(row for row in body["data"] if row["name"] == "acme-main")["in_flight"] == 1

        status, body = await call(gw, "POST", "/admin/channels/nowhere/disable")
        assert status == 404 and body["error"]["code"] == "channel_not_found"


async def test_tasks_across_tokens_with_filters(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path, generation_seconds=30, admin=AdminConfig(key=ADMIN_KEY)) as gw:
        _, mine = await gw.client.submit(model="acme-1", prompt="fox")
        _, theirs = await gw.client.request(
            "POST",
            "/v1/video/generations",
            json={"model": "acme-1", "prompt": "owl"},
            headers={"Authorization": f"Bearer {OTHER_TOKEN}"},
        )
        status, body = await call(gw, "GET", "/admin/tasks")
        assert status == 200
        assert [task["id"] for task in body["data"]] == [theirs["id"], mine["id"]]
        assert body["data"][0]["token"] == "other" and body["data"][0]["channel"] == "acme-main"

        _, body = await call(gw, "GET", "/admin/tasks?token=tester")
        assert [task["id"] for task in body["data"]] == [mine["id"]]
        _, body = await call(gw, "GET", "/admin/tasks?limit=1")
        assert body["has_more"] and body["last_id"] == theirs["id"]
        _, body = await call(gw, "GET", f"/admin/tasks?after={theirs['id']}")
        assert [task["id"] for task in body["data"]] == [mine["id"]]
        _, body = await call(gw, "GET", "/admin/tasks?status=completed&channel=acme-main")
        assert body["data"] == []
        status, body = await call(gw, "GET", "/admin/tasks?status=done")
        assert status == 400 and body["error"]["param"] == "status"


async def run_admin(args, base_url, key=ADMIN_KEY):
    environment = {"REELAY_BASE_URL": base_url, "REELAY_ADMIN_KEY": key}
    return await asyncio.to_thread(CliRunner().invoke, cli, ["admin", *args], env=environment, catch_exceptions=False)


async def test_reelay_admin_commands(acme_pm, tmp_path):
    saved = structlog.get_config()  # the gateway logs to sys.stdout, which CliRunner swaps
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=io.StringIO()))
    try:
        async with acme_gateway(acme_pm, tmp_path, generation_seconds=30, admin=AdminConfig(key=ADMIN_KEY)) as gw:
            _, task = await gw.client.submit(model="acme-1", prompt="fox")
            result = await run_admin(["channels", "--json"], gw.base_url)
            assert result.exit_code == 0, result.output
            assert {row["name"] for row in json.loads(result.output)["data"]} == {"acme-main", "acme-basic"}
            result = await run_admin(["channels"], gw.base_url)
            assert "acme-main" in result.output and "closed" in result.output
            result = await run_admin(["channels", "--disable", "acme-basic", "--json"], gw.base_url)
            assert json.loads(result.output)["state"] == "disabled"
            result = await run_admin(["tasks", "--token", "tester", "--json"], gw.base_url)
            assert [row["id"] for row in json.loads(result.output)["data"]] == [task["id"]]
            result = await run_admin(["tasks"], gw.base_url)
            assert task["id"] in result.output
            result = await run_admin(["tasks", "--json"], gw.base_url, key="wrong-key-0123456789")
            assert result.exit_code == 1 and json.loads(result.output)["error"]["code"] == "invalid_admin_key"
    finally:
        structlog.configure(**saved)


def test_admin_key_and_metrics_token_are_checked(acme_pm):
    from reelay.config import MetricsConfig, parse_config, validate
    from reelay.plugins import Registry

    config = parse_config(
        {
            "admin": {"key": "short"},
            "metrics": {"token": TEST_TOKEN},
            "tokens": [{"name": "t", "key": TEST_TOKEN}],
        }
    )
    assert isinstance(config.metrics, MetricsConfig)
    problems = validate(config, Registry.collect(acme_pm))
    assert "admin.key: must be at least 16 characters" in problems
    assert "metrics.token: must not be a caller's token" in problems
