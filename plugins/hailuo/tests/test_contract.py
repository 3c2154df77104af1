"""The core's contract suite against the Hailuo emulator, through a real gateway."""

from __future__ import annotations

from reelay.testing import VendorContract


class TestHailuoContract(VendorContract):
    vendor = "hailuo"
    text_model = "MiniMax-Hailuo-2.3"
    image_model = "MiniMax-Hailuo-2.3-Fast"
