"""The core's contract suite, run against both Seedance emulators through a real gateway."""

from __future__ import annotations

from reelay.testing import VendorContract


class TestVolcengineContract(VendorContract):
    vendor = "seedance"
    emulator = "seedance-cn"
    text_model = "doubao-seedance-1-0-pro-250528"
    image_model = "doubao-seedance-1-0-pro-250528"


class TestBytePlusContract(VendorContract):
    vendor = "seedance"
    emulator = "seedance-intl"
    text_model = "dreamina-seedance-2-0-260128"
    image_model = "dreamina-seedance-2-0-260128"
