"""The core's contract suite against both Veo emulators."""

from reelay.testing import VendorContract


class TestVeoGeminiContract(VendorContract):
    vendor = "veo"
    emulator = "veo-gemini"
    text_model = "veo-3"
    image_model = "veo-3.1-fast-generate-preview"
    moderation_after_acceptance = "content_filtered"  # a done operation with its samples filtered


class TestVeoVertexContract(VendorContract):
    vendor = "veo"
    emulator = "veo-vertex"
    text_model = "veo-3.1-fast-generate-001"
    image_model = "veo-3.1-generate-001"
    moderation_after_acceptance = "content_filtered"
