"""A second test vendor, "bolt", for the naming rules: it registers ``acme-1`` too.

Bolt resells acme's engine: it speaks acme's protocol (so acme's emulator
serves it) with models of its own rules, among them an ``acme-1`` that only
takes 3 or 9 seconds in squares, the same name as acme's model.
"""

from __future__ import annotations

import acme
import attrs

from reelay import Capabilities, CredentialSpec, ModelSpec, VendorPlugin, VendorSpec

VENDOR = "bolt"

MODELS = tuple(
    ModelSpec(
        name=name,
        vendor=VENDOR,
        capabilities=Capabilities(text_to_video=True),
        durations=(3, 9),
        sizes=("960x960",),
        typical_seconds=1.0,
    )
    for name in ("acme-1", "bolt-1")
)


class BoltPlugin(VendorPlugin):
    vendor = VendorSpec(
        name=VENDOR, default_base_url="https://api.bolt.invalid", credentials=(CredentialSpec("api_key"),)
    )
    models = MODELS

    def build_payload(self, request, model, channel):
        return acme.reelay_build_payload(request, model, _as_acme(channel))

    async def submit(self, payload, channel, http):
        return await acme._submit(payload, channel, http)

    async def fetch_status(self, task, channel, http):
        return await acme._status(task, channel, http)

    def map_status(self, payload, task, channel):
        return acme.reelay_map_status(payload, task, _as_acme(channel))

    async def open_content(self, task, channel):
        return await acme._content(task, channel)


def _as_acme(channel):
    """The channel as acme's hooks, which answer only for acme's channels, want it."""
    return attrs.evolve(channel, vendor="acme")


plugin = BoltPlugin()
