"""The plugin authors' contract suite, run against the core's own test vendor."""

import acme
import pytest

from reelay.emulation import EmulatorSettings, serve_app
from reelay.testing import VendorContract


class TestAcmeContract(VendorContract):
    vendor = "acme"
    text_model = "acme-1"
    image_model = "acme-1"
    plugins = (acme,)
    load_entry_points = False


class TestAcmeOutsideContract(VendorContract):
    """The suite against an emulator the plugin does not register, reached by its base_url."""

    vendor = "acme"
    text_model = "acme-1"
    image_model = "acme-1"
    plugins = (acme,)
    load_entry_points = False
    credentials = {"api_key": "outside-key"}

    @pytest.fixture
    async def outside_base_url(self):
        settings = EmulatorSettings(generation_seconds=0.6, credentials=dict(self.credentials))
        async with serve_app(acme.create_emulator(settings)) as url:
            yield url
