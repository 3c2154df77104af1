"""The reelay command: --help, plugins, check-config, serve and demo as real processes."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

from reelay.cli import cli, describe_plugins
from reelay.config import hash_key
from reelay.demo import demo_banner, demo_environment
from reelay.plugins import Registry
from reelay.testing import running_gateway


@pytest.mark.parametrize("command", [[], ["serve"], ["demo"], ["plugins"], ["check-config"]])
def test_help_for_each_command(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_plugins_lists_models_and_precedence(acme_pm):
    listing = describe_plugins(acme_pm, Registry.collect(acme_pm), [("acme", "acme-test", "1.0")])
    [vendor] = listing["vendors"]
    model = next(m for m in vendor["models"] if m["name"] == "acme-1")
    assert model["precedence"][0] == "duration: seconds > duration"
    assert model["durations"] == [4, 6, 8]
    assert listing["plugins"] == [{"name": "acme", "distribution": "acme-test", "version": "1.0"}]


def test_plugins_command_runs():
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert "vendors" in json.loads(result.output)


def test_check_config_reports_problems(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[channels]]\nname = "x"\nvendor = "no-such-vendor"\n')
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code != 0
    assert "channels[0].vendor: no installed plugin provides 'no-such-vendor'" in result.output


def test_check_config_missing_env(tmp_path):
    path = tmp_path / "env.toml"
    path.write_text('[[tokens]]\nname = "a"\nkey = "${REELAY_TEST_UNSET_VAR}"\n')
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code != 0 and "REELAY_TEST_UNSET_VAR is not set" in result.output


def test_check_config_accepts_a_postgres_store(tmp_path, monkeypatch):
    pytest.importorskip("asyncpg")
    monkeypatch.setenv("REELAY_TEST_PGPASSWORD", "pg-secret-pw")
    path = tmp_path / "pg.toml"
    path.write_text('[store]\nurl = "postgresql://reelay:${REELAY_TEST_PGPASSWORD}@db.internal/reelay?pool_size=4"\n')
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 0 and "ok" in result.output, result.output


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port, process, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gateway did not become healthy")


def test_serve_starts_from_a_config_file(tmp_path):
    port = _free_port()
    config = tmp_path / "reelay.toml"
    config.write_text(
        f'[server]\nport = {port}\n[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
        f'[[tokens]]\nname = "a"\nkey_sha256 = "{hash_key("secret-token-1")}"\n'
    )
    env = {**os.environ, "REELAY_PLUGINS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "reelay.cli", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_healthy(port, process)["status"] == "ok"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_serve_refuses_a_bad_config_before_starting(tmp_path):
    config = tmp_path / "reelay.toml"
    config.write_text("[server]\nport = 'x'\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(config)])
    assert result.exit_code != 0 and "server.port: expected an integer" in result.output


def test_demo_process_starts_and_prints_how_to_use_it():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reelay.cli", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_healthy(port, process)["status"] == "ok"
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert f"export REELAY_BASE_URL=http://127.0.0.1:{port}" in out.decode()
    assert "export REELAY_API_KEY=sk-reelay-demo" in out.decode()


async def test_demo_environment_serves_every_emulator(acme_pm, tmp_path):
    async with demo_environment(port=0, generation_seconds=0.2, pm=acme_pm, token="sk-demo-test") as setup:
        assert set(setup.emulators) == {"acme"}
        banner = demo_banner(setup, "sk-demo-test", Registry.collect(acme_pm))
        assert "REELAY_API_KEY=sk-demo-test" in banner
        async with running_gateway(setup.config, pm=acme_pm, token="sk-demo-test") as gw:
            status, task = await gw.client.submit(model="acme-1", prompt="demo fox")
            assert status == 200
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed"
