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
from reelay.config import Config, hash_key
from reelay.demo import DemoSetup, DemoStoreBusy, demo_banner, demo_environment, demo_store_lock
from reelay.plugins import PluginError, Registry, installed_plugin_names
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


# ---------------------------------------------------------------- start-up errors: one line, exit 2


def _reelay(*args, env=None, timeout=60):
    """``reelay ARGS`` as a real process; the completed process (text output)."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "reelay.cli", *args], env=environment, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def busy_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def _serve_config(tmp_path, port, store=None):
    config = tmp_path / "reelay.toml"
    config.write_text(f'[server]\nport = {port}\n[store]\nurl = "sqlite:///{store or tmp_path / "r.db"}"\n')
    return config


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path, busy_port):
    result = _reelay("serve", "--config", str(_serve_config(tmp_path, busy_port)), env={"REELAY_PLUGINS": ""})
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"Error: port {busy_port} is in use: pass --port or set server.port"]
    assert result.stdout == ""


def test_demo_on_a_busy_port_says_so_before_the_banner(busy_port):
    result = _reelay("demo", "--port", str(busy_port))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"Error: port {busy_port} is in use: pass --port"]
    assert "export" not in result.stdout and result.stdout == ""


def test_demo_losing_its_port_after_the_check_is_one_line_and_exit_2(busy_port):
    """The port taken between the check and the bind: `reelay.http.serving.run` fails, still one line."""
    code = "import reelay.startup as s; s.check_port = lambda *args: None; from reelay.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "demo", "--port", str(busy_port)],
        env={**os.environ, "REELAY_PLUGINS": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"Error: cannot start on 127.0.0.1:{busy_port}: Address already in use"]


def test_demo_serves_as_reelay_serve_does_with_the_server_timeouts(monkeypatch, acme_pm, tmp_path, capsys):
    """`reelay demo` is served by `reelay.http.serving.run` (slow-client timeouts), not aiohttp's run_app."""
    import asyncio

    import aiohttp

    import reelay.demo
    from reelay.config import ServerConfig
    from reelay.http.serving import serving

    seen = {}

    def run(app, server, ready=None):
        async def serve_once():
            made = await app  # the demo's app is made on the serving loop, emulators and all
            async with (
                serving(made, ServerConfig(port=0)) as base_url,
                aiohttp.ClientSession() as session,
                session.get(f"{base_url}/healthz") as response,
            ):
                seen["healthz"] = response.status
                ready(base_url)  # the banner: printed once listening

        seen["server"] = server
        asyncio.run(serve_once())

    monkeypatch.setattr(reelay.demo, "run", run)
    reelay.demo.run_demo("127.0.0.1", 8765, 0.2, "sk-demo-test", f"sqlite:///{tmp_path / 'demo.db'}", pm=acme_pm)
    assert seen == {"server": ServerConfig(host="127.0.0.1", port=8765), "healthz": 200}
    assert "Reelay demo gateway on http://127.0.0.1:8765" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        ("[server]\nport = 'x'\n", "Error: server.port: expected an integer"),
        ("[server\n", "not valid TOML"),
        ("[[tokens]]\nname = 'a'\nkey = '${REELAY_TEST_UNSET_VAR}'\n", "REELAY_TEST_UNSET_VAR is not set"),
        ('[store]\nurl = "sqlite:////no/such/folder/r.db"\n', "store.url: cannot open /no/such/folder/r.db"),
        ('[store]\nurl = "mysql://db/reelay"\n', "store.url: unsupported store URL scheme 'mysql'"),
    ],
)
def test_serve_start_up_errors_are_one_line_and_exit_2(tmp_path, config_text, expected):
    config = tmp_path / "reelay.toml"
    config.write_text(config_text)
    result = CliRunner().invoke(cli, ["serve", "--config", str(config)], env={"REELAY_PLUGINS": ""})
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and expected in line


def test_serve_with_a_missing_config_file_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: ") and "nope.toml: cannot read" in line


def test_serve_with_an_uncreatable_results_dir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = tmp_path / "reelay.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\nresults_dir = "{blocker / "results"}"\n')
    result = CliRunner().invoke(cli, ["serve", "--config", str(config)], env={"REELAY_PLUGINS": ""})
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: store.results_dir: cannot create {blocker / 'results'}: Not a directory"


@pytest.mark.parametrize("command", [["serve", "--config", "CONFIG"], ["demo", "--port", "0"], ["plugins"]])
def test_an_unknown_plugin_in_reelay_plugins_is_one_line_naming_the_installed(tmp_path, command):
    config = _serve_config(tmp_path, 0)
    args = [str(config) if arg == "CONFIG" else arg for arg in command]
    result = CliRunner().invoke(cli, args, env={"REELAY_PLUGINS": "no-such-plugin-x"})
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    installed = ", ".join(installed_plugin_names()) or "none"
    assert line == (
        f"Error: REELAY_PLUGINS names 'no-such-plugin-x', which is not installed"
        f" (installed: {installed}; unset REELAY_PLUGINS to load them all)"
    )


def test_a_plugin_that_fails_to_load_is_one_line_naming_it(monkeypatch):
    def broken():
        raise PluginError("plugin 'broken' failed to load: ModuleNotFoundError: No module named 'reelay_broken'")

    monkeypatch.setattr("reelay.plugins.make_plugin_manager", broken)
    for args in (["plugins"], ["demo", "--port", "0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert result.output.strip().splitlines() == [
            "Error: plugin 'broken' failed to load: ModuleNotFoundError: No module named 'reelay_broken'"
        ]


# ---------------------------------------------------------------- check-config reports everything at once


def test_check_config_reports_every_missing_variable_and_every_problem(tmp_path):
    path = tmp_path / "many.toml"
    path.write_text(
        "[server]\nport = 'eighty'\n"
        "[[tokens]]\nname = 'a'\nkey = '${REELAY_TEST_UNSET_A}'\n"
        "[[tokens]]\nname = 'b'\nkey = '${REELAY_TEST_UNSET_B}'\n"
    )
    result = CliRunner().invoke(cli, ["check-config", str(path)])
    assert result.exit_code == 2
    assert "tokens[0].key: environment variable REELAY_TEST_UNSET_A is not set" in result.output
    assert "tokens[1].key: environment variable REELAY_TEST_UNSET_B is not set" in result.output
    assert "server.port: expected an integer" in result.output


def test_check_config_with_missing_variables_still_checks_channels(tmp_path):
    path = tmp_path / "env.toml"
    path.write_text(
        "[[channels]]\nname = 'x'\nvendor = 'no-such-vendor'\n"
        "[channels.credentials]\napi_key = '${REELAY_TEST_UNSET_KEY}'\n"
    )
    result = CliRunner().invoke(cli, ["check-config", str(path)], env={"REELAY_PLUGINS": ""})
    assert result.exit_code == 2
    assert "channels[0].credentials.api_key: environment variable REELAY_TEST_UNSET_KEY is not set" in result.output
    assert "channels[0].vendor: no installed plugin provides 'no-such-vendor'" in result.output


# ---------------------------------------------------------------- the demo


def test_a_second_demo_on_the_same_sqlite_store_refuses_to_start(tmp_path):
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    port = _free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "reelay.cli", "demo", "--port", str(port), "--store", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(port, first)
        second = _reelay("demo", "--port", str(_free_port()), "--store", store)
        assert second.returncode == 2, second.stderr
        assert second.stderr.splitlines() == [
            f"Error: another reelay demo (pid {first.pid}) is using the store {tmp_path / 'shared.db'}:"
            " stop it, or pass another --store"
        ]
    finally:
        first.terminate()
        first.communicate(timeout=10)
    with demo_store_lock(store) as lock:  # the lock went with the first demo
        assert lock == tmp_path / "shared.db.demo-lock"


def test_demo_store_lock_is_held_for_the_block(tmp_path):
    store = f"sqlite:///{tmp_path / 'd.db'}"
    with demo_store_lock(store), pytest.raises(DemoStoreBusy, match="another reelay demo"), demo_store_lock(store):
        pass
    with demo_store_lock(store):
        pass
    with demo_store_lock(None) as nothing:
        assert nothing is None


def test_demo_banner_marks_image_to_video_only_models(acme_pm):
    registry = Registry.collect(acme_pm)
    setup = DemoSetup(Config(), {"acme": "http://127.0.0.1:1"})
    banner = demo_banner(setup, "sk-demo", registry)
    [models] = [line for line in banner.splitlines() if line.startswith("Models: ")]
    assert models == "Models: acme-1, acme-still (image-to-video only)"
    assert "image-to-video only: send an image" in banner


async def test_the_demo_removes_the_folder_it_made_but_not_a_store_it_was_given(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    async with demo_environment(port=0):
        assert len(list(tmp_path.glob("reelay-demo-*"))) == 1
    assert not list(tmp_path.glob("reelay-demo-*"))
    async with demo_environment(port=0, store_url=f"sqlite:///{tmp_path / 'kept.db'}"):
        pass
    assert len(list(tmp_path.glob("reelay-demo-*"))) == 1  # its results go with the store the caller keeps


async def test_the_demo_on_loopback_gives_vendors_its_own_address_for_callbacks(tmp_path):
    async with demo_environment(port=18123, store_url=f"sqlite:///{tmp_path / 'd.db'}") as setup:
        assert setup.config.server.public_url == "http://127.0.0.1:18123"
    async with demo_environment(host="0.0.0.0", port=18123, store_url=f"sqlite:///{tmp_path / 'd.db'}") as setup:
        assert setup.config.server.public_url is None  # bound wider: no guessing the address callers use
