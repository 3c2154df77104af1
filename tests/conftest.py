from __future__ import annotations

import acme
import pytest
from acme_gateway import acme_gateway

from reelay.plugins import Registry, make_plugin_manager


@pytest.fixture
def acme_pm():
    """A plugin manager with only the test vendor, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[acme])


@pytest.fixture
def acme_spec(acme_pm):
    return Registry.collect(acme_pm).emulators[0]


@pytest.fixture
async def gateway(acme_pm, tmp_path):
    async with acme_gateway(acme_pm, tmp_path) as running:
        yield running
