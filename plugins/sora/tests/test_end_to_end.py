"""The plugin's hooks driving the emulator on loopback, from submission to content bytes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

import reelay_sora
from reelay import (
    Channel,
    FailureKind,
    ImageInput,
    Task,
    TaskStatus,
    UnifiedRequest,
    UpstreamError,
    VendorRef,
)
from reelay.emulation import sample_asset, sample_clip, serve_app
from reelay.normalize import normalize
from reelay.plugins import Registry, make_plugin_manager


@pytest.fixture
def pm():
    return make_plugin_manager(load_entry_points=False, plugins=[reelay_sora.plugin])


@pytest.fixture
def registry(pm):
    return Registry.collect(pm)


@pytest.fixture
def spec(registry):
    (emulator,) = [emulator for emulator in registry.emulators if emulator.vendor == "sora"]
    return emulator


@pytest.fixture
async def emulator(spec) -> AsyncIterator[str]:
    async with serve_app(spec.create_app(spec.settings(generation_seconds=0.4))) as base_url:
        yield base_url


@pytest.fixture
def channel(emulator, spec) -> Channel:
    return Channel(name="sora-emu", vendor="sora", base_url=emulator, credentials=dict(spec.credentials))


async def _submit(pm, registry, channel, http, **fields) -> Task:
    unified = UnifiedRequest(**({"model": "sora-2"} | fields))
    model = registry.model(unified.model)
    request = normalize(unified, model, public_id="video_public")
    payload = pm.hook.reelay_build_payload(request=request, model=model, channel=channel)
    ref = await pm.hook.reelay_submit(payload=payload, request=request, channel=channel, http=http)
    return Task(
        id="video_public",
        owner="tester",
        model=model.name,
        vendor="sora",
        channel=channel.name,
        vendor_ref=ref,
        seconds=request.duration,
        size=request.size,
    )


async def _poll(pm, task, channel, http) -> list:
    updates = []
    for _ in range(200):
        payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
        update = pm.hook.reelay_map_status(payload=payload, task=task, channel=channel)
        updates.append(update)
        if update.status.is_terminal:
            return updates
        await asyncio.sleep(0.03)
    raise AssertionError("the task never finished")


async def _read(http, source, headers=None) -> tuple[int, bytes]:
    async with http.get(source.url, headers={**source.headers, **(headers or {})}) as response:
        return response.status, await response.read()


async def test_submit_poll_complete_and_read_the_content(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, prompt="a cat", seconds="8", duration=4, size="16:9")
    updates = await _poll(pm, task, channel, http)
    statuses = [update.status for update in updates]
    assert statuses[0] is TaskStatus.QUEUED and TaskStatus.IN_PROGRESS in statuses
    assert statuses[-1] is TaskStatus.COMPLETED
    progress = [update.progress for update in updates if update.status is TaskStatus.IN_PROGRESS]
    assert progress == sorted(progress) and all(0 < value < 100 for value in progress)
    result = updates[-1].result
    assert result.url is None and result.duration == 8.0 and "expires_at" in result.extra

    source = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="video")
    assert source.mime_type == "video/mp4"
    video = sample_clip(8, 1280, 720)  # seconds="8" wins over duration; 16:9 is 1280x720
    assert await _read(http, source) == (200, video)
    assert await _read(http, source, {"Range": "bytes=4-11"}) == (206, video[4:12])
    thumbnail = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="thumbnail")
    assert await _read(http, thumbnail) == (200, sample_asset("sample.webp"))
    spritesheet = await pm.hook.reelay_open_content(task=task, channel=channel, http=http, variant="spritesheet")
    assert await _read(http, spritesheet) == (200, sample_asset("sample.jpg"))


async def test_the_emulator_saw_the_precedence_rules_applied(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, model="sora-2-pro", prompt="a cat", seconds="12", size="9:16")
    payload = await pm.hook.reelay_fetch_status(task=task, channel=channel, http=http)
    assert (payload["model"], payload["seconds"], payload["size"]) == ("sora-2-pro", "12", "720x1280")


async def test_an_image_url_goes_as_json(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, prompt="a cat", image="https://img.example/frame.png")
    assert task.vendor_ref.id.startswith("video_")


async def test_an_uploaded_image_goes_as_multipart(pm, registry, channel, http):
    upload = ImageInput(
        base64=base64.b64encode(sample_asset("sample.png")).decode(), mime_type="image/png", filename="frame.png"
    )
    task = await _submit(pm, registry, channel, http, prompt="a cat", uploads=(upload,))
    assert (await _poll(pm, task, channel, http))[-1].status is TaskStatus.COMPLETED


async def test_an_inline_image_goes_as_a_data_url(pm, registry, channel, http):
    inline = base64.b64encode(sample_asset("sample.png")).decode()
    task = await _submit(pm, registry, channel, http, prompt="a cat", image=inline)
    assert task.vendor_ref.id.startswith("video_")


async def test_remix_then_cancel(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, prompt="a cat")
    await _poll(pm, task, channel, http)
    ref = await pm.hook.reelay_remix(task=task, prompt="a cat at night", channel=channel, http=http)
    assert isinstance(ref, VendorRef) and ref.id != task.vendor_ref.id
    remix = Task(id="video_remix", owner="tester", model="sora-2", vendor="sora", channel=channel.name, vendor_ref=ref)
    payload = await pm.hook.reelay_fetch_status(task=remix, channel=channel, http=http)
    assert payload["remixed_from_video_id"] == task.vendor_ref.id

    await pm.hook.reelay_cancel(task=remix, channel=channel, http=http)
    with pytest.raises(UpstreamError) as raised:
        await pm.hook.reelay_fetch_status(task=remix, channel=channel, http=http)
    assert raised.value.kind is FailureKind.NOT_FOUND


async def test_remixing_an_unfinished_video_is_the_callers_fault(pm, registry, channel, http):
    task = await _submit(pm, registry, channel, http, prompt="a cat")
    with pytest.raises(UpstreamError) as raised:
        await pm.hook.reelay_remix(task=task, prompt="again", channel=channel, http=http)
    assert raised.value.kind is FailureKind.CALLER


@pytest.mark.parametrize(
    ("marker", "kind", "code"),
    [("reject", FailureKind.CONTENT_POLICY, "content_policy_violation"), ("invalid", FailureKind.CALLER, None)],
)
async def test_refusals_at_submission(pm, registry, channel, http, marker, kind, code):
    with pytest.raises(UpstreamError) as raised:
        await _submit(pm, registry, channel, http, prompt=f"a cat [emulate:{marker}]")
    assert raised.value.kind is kind and raised.value.http_status == 400
    if code:
        assert raised.value.code == code


@pytest.mark.parametrize(
    ("marker", "code"), [("fail", "video_generation_failed"), ("block", "content_policy_violation")]
)
async def test_failures_after_acceptance(pm, registry, channel, http, marker, code):
    task = await _submit(pm, registry, channel, http, prompt=f"a cat [emulate:{marker}]")
    final = (await _poll(pm, task, channel, http))[-1]
    assert final.status is TaskStatus.FAILED and final.error.code == code


async def test_a_wrong_key_is_the_channels_fault(pm, registry, channel, http):
    wrong = Channel(name="bad", vendor="sora", base_url=channel.base_url, credentials={"api_key": "sk-wrong-key"})
    with pytest.raises(UpstreamError) as raised:
        await _submit(pm, registry, wrong, http, prompt="a cat")
    assert raised.value.kind is FailureKind.CHANNEL and "sk-wrong-key" not in raised.value.message


async def test_organization_and_project_reach_the_emulator(pm, registry, spec, http):
    credentials = {"api_key": "sk-demo-sora", "organization": "org-1", "project": "proj_1"}
    app = spec.create_app(spec.settings(credentials=credentials, generation_seconds=0.2))
    async with serve_app(app) as base_url:
        channel = Channel(name="org", vendor="sora", base_url=base_url, credentials=credentials)
        task = await _submit(pm, registry, channel, http, prompt="a cat")
        assert (await _poll(pm, task, channel, http))[-1].status is TaskStatus.COMPLETED
        without = Channel(name="no-org", vendor="sora", base_url=base_url, credentials={"api_key": "sk-demo-sora"})
        with pytest.raises(UpstreamError) as raised:
            await _submit(pm, registry, without, http, prompt="a cat")
        assert raised.value.kind is FailureKind.CHANNEL


async def test_failing_submissions_are_transient(pm, registry, spec, http):
    async with serve_app(spec.create_app(spec.settings(fail_submissions=1))) as base_url:
        channel = Channel(name="flaky", vendor="sora", base_url=base_url, credentials=dict(spec.credentials))
        with pytest.raises(UpstreamError) as raised:
            await _submit(pm, registry, channel, http, prompt="a cat")
        assert raised.value.kind is FailureKind.TRANSIENT
        assert (await _submit(pm, registry, channel, http, prompt="a cat")).vendor_ref is not None


async def test_an_unreachable_endpoint_is_transient(pm, registry, http):
    channel = Channel(name="gone", vendor="sora", base_url="http://127.0.0.1:9", credentials={"api_key": "sk-x"})
    with pytest.raises(UpstreamError) as raised:
        await _submit(pm, registry, channel, http, prompt="a cat")
    assert raised.value.kind is FailureKind.TRANSIENT
