"""Reloading the configuration file: under load, with a broken file, by SIGHUP to a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import acme
import pytest
from click.testing import CliRunner

from reelay.client.admin_cli import admin
from reelay.config import check_file, hash_key, load_config
from reelay.emulation import serve_app
from reelay.engine.breakers import BreakerState
from reelay.engine.reloading import ReloadNotAvailable
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, GatewayClient, running_gateway

ADMIN = "admin-key-0123456789"
NEW_TOKEN = "sk-new-token-4567"
KEY = "acme-test-key-123"


def _write(path: Path, tmp_path: Path, channels: dict[str, str], tokens: tuple[str, ...] = (TEST_TOKEN,)) -> None:
    text = (
        f'[server]\nport = 0\n[store]\nurl = "sqlite:///{tmp_path / "reelay.db"}"\n'
        f'results_dir = "{tmp_path / "results"}"\n'
        f"[poller]\nmin_interval = 0.05\nmax_interval = 0.2\n"
        f'[admin]\nkey = "{ADMIN}"\n'
    )
    for index, token in enumerate(tokens):
        text += f'[[tokens]]\nname = "t{index}"\nkey_sha256 = "{hash_key(token)}"\n'
    for name, url in channels.items():
        text += (
            f'[[channels]]\nname = "{name}"\nvendor = "acme"\nbase_url = "{url}"\ncredentials = {{api_key = "{KEY}"}}\n'
        )
    path.write_text(text)


async def _admin_reload(gw) -> tuple[int, dict]:
    admin = GatewayClient(gw.base_url, ADMIN, gw.client.http)
    return await admin.request("POST", "/admin/reload")


async def test_reload_adds_a_token_and_removes_a_channel_under_load(acme_pm, tmp_path):
    settings = Registry.collect(acme_pm).emulators[0].settings(generation_seconds=0.5)
    first, second = acme.create_emulator(settings), acme.create_emulator(settings)
    path = tmp_path / "reelay.toml"
    async with serve_app(first) as url_a, serve_app(second) as url_b:
        _write(path, tmp_path, {"a": url_a, "b": url_b})
        async with running_gateway(load_config(path), pm=acme_pm, config_path=path) as gw:
            answers: list[tuple[int, dict]] = []

            async def load(seconds: float) -> None:  # ~20 submissions a second
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    answers.append(await gw.client.submit(model="acme-1", prompt="fox"))
                    await asyncio.sleep(0.05)

            running = asyncio.create_task(load(3.0))
            await asyncio.sleep(1.0)
            _write(path, tmp_path, {"b": url_b}, tokens=(TEST_TOKEN, NEW_TOKEN))
            status, summary = await _admin_reload(gw)
            assert status == 200, summary
            assert summary["draining"] == ["a"] and summary["channels"] == ["b"] and summary["tokens"] == 2
            reloaded_at = len(answers)
            await running

            assert [status for status, _ in answers] == [200] * len(answers), answers
            assert len(answers) > 30
            ids = [body["id"] for _, body in answers]
            stored = [await gw.dispatcher.store.get(task_id) for task_id in ids]
            assert {task.channel for task in stored[: reloaded_at // 2]} == {"a", "b"}  # both served before
            assert {task.channel for task in stored[reloaded_at + 1 :]} == {"b"}  # only b after
            for task_id in ids:  # a's unfinished tasks were still polled: every task completes
                final, _ = await gw.client.wait(task_id)
                assert final["status"] == "completed", final
            on_a = next(task.id for task in stored if task.channel == "a")
            assert (await gw.client.content(on_a))[0] == 200

            newcomer = GatewayClient(gw.base_url, NEW_TOKEN, gw.client.http)
            assert (await newcomer.submit(model="acme-1", prompt="fox"))[0] == 200
            assert await gw.dispatcher.reloading.drop_drained() == ["a"]  # its tasks ended
            assert "a" not in gw.dispatcher.channels


async def test_a_broken_file_changes_nothing(acme_pm, tmp_path):
    settings = Registry.collect(acme_pm).emulators[0].settings(generation_seconds=0.2)
    path = tmp_path / "reelay.toml"
    async with serve_app(acme.create_emulator(settings)) as url:
        _write(path, tmp_path, {"a": url})
        async with running_gateway(load_config(path), pm=acme_pm, config_path=path) as gw:
            before = (gw.dispatcher.config, dict(gw.dispatcher.channels), dict(gw.dispatcher.tokens))
            path.write_text(path.read_text() + '[[channels]]\nname = "a"\nvendor = "nope"\nweight = -1\n')
            _, expected = check_file(path, gw.dispatcher.registry, gw.dispatcher.pm)
            status, body = await _admin_reload(gw)
            assert status == 400 and body["error"]["code"] == "invalid_configuration"
            assert body["error"]["problems"] == expected and expected
            assert body["error"]["message"] == "invalid configuration:\n  " + "\n  ".join(expected)
            assert (gw.dispatcher.config, dict(gw.dispatcher.channels), dict(gw.dispatcher.tokens)) == before
            assert (await gw.client.submit(model="acme-1", prompt="fox"))[0] == 200


async def test_reload_re_enables_refused_channels_but_not_an_operators(acme_pm, tmp_path):
    settings = Registry.collect(acme_pm).emulators[0].settings(generation_seconds=0.2)
    path = tmp_path / "reelay.toml"
    async with serve_app(acme.create_emulator(settings)) as url_a, serve_app(acme.create_emulator(settings)) as url_b:
        _write(path, tmp_path, {"a": url_a, "b": url_b})
        async with running_gateway(load_config(path), pm=acme_pm, config_path=path) as gw:
            breakers = gw.dispatcher.breakers
            breakers.disable("a", "the vendor refused the key")
            breakers.disable("b", "disabled by an operator", manual=True)
            assert (await _admin_reload(gw))[0] == 200
            assert breakers.state("a") is BreakerState.CLOSED
            assert breakers.state("b") is BreakerState.DISABLED


async def test_reload_without_a_file_is_a_400(gateway):
    config = gateway.dispatcher.config
    assert gateway.dispatcher.reloading.path is None
    with pytest.raises(ReloadNotAvailable):
        await gateway.dispatcher.reloading.reload()
    assert gateway.dispatcher.config is config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(port: int, token: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_sighup_reloads_a_running_serve(tmp_path):
    port = _free_port()
    path = tmp_path / "reelay.toml"
    base = f'[server]\nport = {port}\n[store]\nurl = "sqlite:///{tmp_path / "r.db"}"\n'
    first = f'[[tokens]]\nname = "a"\nkey_sha256 = "{hash_key("secret-token-1")}"\n'
    path.write_text(base + first)
    env = {**os.environ, "REELAY_PLUGINS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "reelay.cli", "serve", "--config", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while _status(port, "secret-token-1") != 200:
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        assert _status(port, "secret-token-2") == 401
        path.write_text(base + first + f'[[tokens]]\nname = "b"\nkey_sha256 = "{hash_key("secret-token-2")}"\n')
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while _status(port, "secret-token-2") != 200:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.1)
        assert _status(port, "secret-token-1") == 200 and process.poll() is None
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def test_admin_reload_command(acme_pm, tmp_path):
    path = tmp_path / "reelay.toml"
    _write(path, tmp_path, {})
    async with running_gateway(load_config(path), pm=acme_pm, config_path=path) as gw:
        result = await asyncio.to_thread(
            CliRunner().invoke, admin, ["reload", "--json", "--base-url", gw.base_url, "--admin-key", ADMIN]
        )
    assert result.exit_code == 0, result.output
    assert '"reloaded": true' in result.output
