"""A Sora task whose submission was interrupted is found in ``GET /v1/videos``: one video, completed."""

from reelay import UnifiedRequest
from reelay.emulation import serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import channel_for, gateway_config, interrupted_submission, running_gateway
from reelay_sora.emulator import STORE

FOX = UnifiedRequest(model="sora-2", prompt="an interrupted fox")


def sora_spec(pm):
    return next(spec for spec in Registry.collect(pm).emulators if spec.vendor == "sora")


async def test_interrupted_submission_is_adopted_from_the_video_list_not_submitted_twice(tmp_path):
    pm = make_plugin_manager()
    spec = sora_spec(pm)
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        task_id = await interrupted_submission(config, FOX, pm=pm)
        async with running_gateway(config, pm=pm) as gw:
            final, _ = await gw.client.wait(task_id)
    assert final["status"] == "completed", final
    assert len(app[STORE].videos) == 1


async def test_interrupted_submission_adopts_its_own_video_not_the_callers_retry(tmp_path):
    pm = make_plugin_manager()
    spec = sora_spec(pm)
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        task_id = await interrupted_submission(config, FOX, pm=pm)
        [orphan] = app[STORE].videos
        async with running_gateway(config, pm=pm) as gw:
            status, retry = await gw.client.submit(model="sora-2", prompt=FOX.prompt)  # the caller retried
            assert status == 200, retry
            final, _ = await gw.client.wait(task_id)
            retried, _ = await gw.client.wait(retry["id"])
            adopted = await gw.dispatcher.store.get(task_id)
    assert final["status"] == retried["status"] == "completed"
    assert adopted.vendor_ref.id == orphan and len(app[STORE].videos) == 2


async def test_interrupted_submission_not_in_the_video_list_fails_with_submission_interrupted(tmp_path):
    pm = make_plugin_manager()
    spec = sora_spec(pm)
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        task_id = await interrupted_submission(config, FOX, pm=pm, reach_vendor=False)
        async with running_gateway(config, pm=pm) as gw:
            final, _ = await gw.client.wait(task_id)
    assert final["status"] == "failed" and final["error"]["code"] == "submission_interrupted", final
    assert len(app[STORE].videos) == 0
