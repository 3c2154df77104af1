"""Veo operations cannot be listed or found by the gateway's id: an interrupted submission
fails with ``submission_interrupted`` rather than being generated twice."""

import pytest

from reelay import UnifiedRequest
from reelay.emulation import serve_app
from reelay.plugins import Registry, make_plugin_manager
from reelay.testing import channel_for, gateway_config, interrupted_submission, running_gateway
from reelay_veo.emulator import STATE


@pytest.mark.parametrize("label", ["veo-gemini", "veo-vertex"])
async def test_interrupted_submission_fails_with_submission_interrupted_not_submitted_twice(tmp_path, label):
    pm = make_plugin_manager()
    spec = next(spec for spec in Registry.collect(pm).emulators if spec.label == label)
    app = spec.create_app(spec.settings(generation_seconds=0.3))
    async with serve_app(app) as url:
        config = gateway_config([channel_for(spec, url)], tmp_path)
        request = UnifiedRequest(model="veo-3.0-generate-001", prompt="an interrupted fox")
        task_id = await interrupted_submission(config, request, pm=pm)
        async with running_gateway(config, pm=pm) as gw:
            final, _ = await gw.client.wait(task_id)
    assert final["status"] == "failed" and final["error"]["code"] == "submission_interrupted", final
    assert len(app[STATE].jobs) == 1
