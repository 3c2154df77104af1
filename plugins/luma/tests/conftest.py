from __future__ import annotations

from typing import Any

import pytest

from reelay import Channel, Task, UnifiedRequest, VendorRef
from reelay.normalize import normalize
from reelay.plugins import make_plugin_manager
from reelay.testing.fixtures import http, load_fixture, mocked
from reelay_luma import LumaPlugin
from reelay_luma.models import MODELS

GENERATION_ID = "3f0a5d2e-8c1b-4e7a-9d3f-1b2c3d4e5f60"
SPECS = {spec.name: spec for spec in MODELS}

__all__ = ["http", "load_fixture", "mocked"]  # reelay.testing.fixtures (pytest_plugins is refused below the top)


@pytest.fixture
def luma_channel() -> Channel:
    return Channel(name="luma-test", vendor="luma", base_url="https://luma.test/", credentials={"api_key": "luma-k"})


@pytest.fixture
def luma_pm():
    return make_plugin_manager(load_entry_points=False, plugins=[LumaPlugin()])


@pytest.fixture
def payload_for(luma_pm, luma_channel):
    """``payload_for("ray-2", prompt=...)``: the create body the plugin builds for a unified request."""

    def build(model: str, **fields: Any) -> Any:
        request = normalize(UnifiedRequest(model=model, **fields), SPECS[model], public_id="video_luma1")
        return luma_pm.hook.reelay_build_payload(request=request, model=SPECS[model], channel=luma_channel)

    return build


@pytest.fixture
def generation_task() -> Task:
    return Task(
        id="video_luma1", owner="o", model="ray-2", vendor="luma", channel="luma-test",
        vendor_ref=VendorRef(GENERATION_ID),
    )  # fmt: skip
