from __future__ import annotations

import acme
import pytest
from reelay.plugins import make_plugin_manager


@pytest.fixture
def acme_pm():
    """A plugin manager with only the test vendor, whatever else is installed."""
    return make_plugin_manager(load_entry_points=False, plugins=[acme])
