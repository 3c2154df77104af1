"""A Kling task whose submission was interrupted is found by its external id: one job, completed."""

from reelay import UnifiedRequest
from reelay.emulation import serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import channel_for, gateway_config, interrupted_submission, running_gateway
from reelay_kling.emulator import STATE


async def test_interrupted_submission_is_adopted_by_external_id_not_submitted_twice(tmp_path):
    pm = make_plugin_manager()
    spec = next(spec for spec in Registry.collect(pm).emulators if spec.vendor == "kling")
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        request = UnifiedRequest(model="kling-v1", prompt="an interrupted fox")
        task_id = await interrupted_submission(config, request, pm=pm)
        async with running_gateway(config, pm=pm) as gw:
            final, _ = await gw.client.wait(task_id)
    assert final["status"] == "completed", final
    assert len(app[STATE].jobs) == 1


async def test_interrupted_submission_that_never_reached_kling_is_sent_again(tmp_path):
    pm = make_plugin_manager()
    spec = next(spec for spec in Registry.collect(pm).emulators if spec.vendor == "kling")
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        request = UnifiedRequest(model="kling-v1", prompt="an interrupted fox")
        task_id = await interrupted_submission(config, request, pm=pm, reach_vendor=False)
        async with running_gateway(config, pm=pm) as gw:
            final, _ = await gw.client.wait(task_id)
    assert final["status"] == "completed", final
    assert len(app[STATE].jobs) == 1
