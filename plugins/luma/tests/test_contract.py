"""The core's contract suite, run against the Luma emulator through a real gateway.

Luma takes keyframe images only as URLs it can fetch; the contract's
image-to-video case sends a data URI, which the plugin refuses (see the
README's "contract wanted"), so it runs with a URL in test_gateway.py.
"""

from __future__ import annotations

from reelay.testing import VendorContract


class TestRay2Contract(VendorContract):
    vendor = "luma"
    text_model = "ray-2"
    image_model = None


class TestRayFlash2Contract(VendorContract):
    vendor = "luma"
    text_model = "ray-flash-2"
    image_model = None
