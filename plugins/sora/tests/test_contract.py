"""The core's contract suite against the Sora emulator, through a real gateway."""

from __future__ import annotations

import reelay_sora
from reelay.testing import VendorContract


class TestSoraContract(VendorContract):
    vendor = "sora"
    text_model = "sora-2"
    image_model = "sora-2"
    # Only this plugin: the suite must not depend on other vendors' plugins loading.
    load_entry_points = False
    plugins = (reelay_sora.plugin,)


class TestSoraProContract(TestSoraContract):
    text_model = "sora-2-pro"
    image_model = "sora-2-pro"
    extra_body = {"size": "1792x1024"}
