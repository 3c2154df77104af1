"""The core's contract suite, run against the Runway emulator through a real gateway."""

from __future__ import annotations

from reelay.testing import VendorContract


class TestRunwayGen45Contract(VendorContract):
    vendor = "runway"
    text_model = "gen4.5"
    image_model = "gen4.5"


class TestRunwayVeoContract(VendorContract):
    vendor = "runway"
    text_model = "veo3.1_fast"
    image_model = "veo3.1"
