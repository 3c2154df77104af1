"""The core's contract suite, run against the Kling emulator through a real gateway."""

from __future__ import annotations

from reelay.testing import VendorContract


class TestKlingContract(VendorContract):
    vendor = "kling"
    text_model = "kling-v1"
    image_model = "kling-v1"
