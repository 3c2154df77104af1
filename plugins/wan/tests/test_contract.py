"""The contract suite against both DashScope emulators."""

from __future__ import annotations

from reelay.testing import VendorContract


class TestWanSingaporeContract(VendorContract):
    vendor = "wan"
    emulator = "wan-intl"
    text_model = "wan2.6-t2v"
    image_model = "wan2.6-i2v"


class TestWanBeijingContract(VendorContract):
    vendor = "wan"
    emulator = "wan-cn"
    text_model = "wan2.5-t2v-preview"
    image_model = "wanx2.1-i2v-turbo"
