"""Beyond the contract: remix, cancel and content variants through a real gateway,
and another Reelay gateway as the upstream of a Sora channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import reelay_sora
from reelay import Channel, GenerationRequest, Task, TaskStatus
from reelay.emulation import EmulatorSpec, sample_asset, sample_clip, serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import TEST_TOKEN, RunningGateway, channel_for, gateway_config, running_gateway
from reelay_sora.models import MODELS


@pytest.fixture
def pm():
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_sora.plugin])


@pytest.fixture
def spec(pm) -> EmulatorSpec:
    (emulator,) = [e for e in Registry.collect(pm).emulators if e.vendor == "sora"]
    return emulator


@pytest.fixture
async def emulator_url(spec) -> AsyncIterator[str]:
    async with serve_app(spec.create_app(spec.settings(generation_seconds=0.3))) as url:
        yield url


@pytest.fixture
async def gateway(pm, spec, emulator_url, tmp_path) -> AsyncIterator[RunningGateway]:
    config = gateway_config([channel_for(spec, emulator_url)], tmp_path)
    async with running_gateway(config, pm=pm) as running:
        yield running


async def test_variants_remix_and_cancel(gateway, emulator_url):
    client = gateway.client
    status, task = await client.submit(model="sora-2-pro", prompt="a fox", seconds="8", size="16:9")
    assert status == 200, task
    final, _ = await client.wait(task["id"])
    assert (final["status"], final["seconds"], final["size"]) == ("completed", "8", "1280x720")
    code, headers, data = await client.content(task["id"], variant="thumbnail")
    assert code == 200 and headers["Content-Type"].startswith("image/webp") and data == sample_asset("sample.webp")
    code, headers, data = await client.content(task["id"], variant="spritesheet")
    assert code == 200 and headers["Content-Type"].startswith("image/jpeg") and data == sample_asset("sample.jpg")
    code, _, body = await client.content(task["id"], variant="poster")
    assert code == 400 and b"spritesheet" in body

    status, remix = await client.request("POST", f"/v1/videos/{task['id']}/remix", json={"prompt": "by night"})
    assert status == 200, remix
    final, _ = await client.wait(remix["id"])
    assert final["status"] == "completed"
    assert (await client.content(remix["id"]))[2] == sample_clip(8, 1280, 720)  # a remix keeps seconds and size

    status, running = await client.submit(model="sora-2", prompt="a slow fox")
    assert status == 200, running
    status, cancelled = await client.request("POST", f"/v1/videos/{running['id']}/cancel")
    assert status == 200 and cancelled["status"] == "cancelled", cancelled
    listing = await gateway.client.http.get(
        f"{emulator_url}/v1/videos", headers={"Authorization": "Bearer sk-demo-sora"}
    )
    upstream = await listing.json()
    assert len(upstream["data"]) == 2  # the cancelled video was deleted upstream


async def test_another_reelay_gateway_as_the_upstream(gateway):
    """A Sora channel pointed at a Reelay gateway speaks its OpenAI Videos routes."""
    http = gateway.client.http
    channel = Channel(
        name="reelay-upstream", vendor="sora", base_url=gateway.base_url, credentials={"api_key": TEST_TOKEN}
    )
    request = GenerationRequest(model="sora-2", prompt="a fox", duration=4, size="720x1280")
    payload = reelay_sora.plugin.reelay_build_payload(request=request, model=MODELS[0], channel=channel)
    ref = await reelay_sora.plugin.reelay_submit(payload=payload, request=request, channel=channel, http=http)
    task = Task(id="video_downstream", owner="t", model="sora-2", vendor="sora", channel=channel.name, vendor_ref=ref)
    for _ in range(200):
        body = await reelay_sora.plugin.reelay_fetch_status(task=task, channel=channel, http=http)
        update = reelay_sora.plugin.reelay_map_status(payload=body, task=task, channel=channel)
        if update.status.is_terminal:
            break
        await asyncio.sleep(0.05)
    assert update.status is TaskStatus.COMPLETED
    source = await reelay_sora.plugin.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    async with http.get(source.url, headers=source.headers) as response:
        assert response.status == 200 and await response.read() == sample_clip(4, 720, 1280)


async def test_a_task_cancelled_on_an_upstream_reelay_is_cancelled_downstream(pm, spec, emulator_url, tmp_path):
    """A Reelay whose only channel is another Reelay: cancelling upstream ends the downstream task on its next poll."""
    (tmp_path / "upstream").mkdir()
    (tmp_path / "downstream").mkdir()
    upstream_config = gateway_config([channel_for(spec, emulator_url)], tmp_path / "upstream")
    async with running_gateway(upstream_config, pm=pm) as upstream:
        channel = Channel(name="reelay", vendor="sora", base_url=upstream.base_url, credentials={"api_key": TEST_TOKEN})
        async with running_gateway(gateway_config([channel], tmp_path / "downstream"), pm=pm) as downstream:
            status, task = await downstream.client.submit(model="sora-2", prompt="a slow fox")
            assert status == 200, task
            recorded = await downstream.dispatcher.store.get(task["id"])
            upstream_id = recorded.vendor_ref.id
            status, cancelled = await upstream.client.request("POST", f"/v1/videos/{upstream_id}/cancel")
            assert status == 200 and cancelled["status"] == "cancelled", cancelled
            final, _ = await downstream.client.wait(task["id"], timeout=5)
    assert final["status"] == "cancelled" and final["error"] is None
