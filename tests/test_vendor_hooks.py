"""The vendor hooks a channel's calls go through: other vendors' plugins left out, everything else called."""

from __future__ import annotations

from reelay import Channel, VendorPlugin, VendorSpec, hookimpl
from reelay.engine.vendor_hooks import VendorHooks
from reelay.plugins import make_plugin_manager


def vendor_plugin(name: str, calls: list[str]) -> VendorPlugin:
    class Plugin(VendorPlugin):
        vendor = VendorSpec(name=name, title=name, default_base_url=f"https://{name}.invalid")

        def map_status(self, payload):
            calls.append(name)
            return f"{name} mapped {payload}"

    return Plugin()


class Watcher:
    """A hand-written plugin: it sees every vendor's calls."""

    def __init__(self, calls: list[str]):
        self.calls = calls

    @hookimpl
    def reelay_map_status(self, payload, task, channel):
        self.calls.append("watcher")


def test_a_channels_hook_calls_its_vendors_plugin_and_every_plugin_that_is_not_another_vendors():
    calls: list[str] = []
    pm = make_plugin_manager(load_entry_points=False)
    for name in ("one", "two", "three"):
        pm.register(vendor_plugin(name, calls))
    pm.register(Watcher(calls))
    hooks = VendorHooks(pm)
    channel = Channel(name="c", vendor="two", base_url="https://two.invalid")

    assert hooks.of("two").reelay_map_status(payload="p", task=None, channel=channel) == "two mapped p"
    assert sorted(calls) == ["two", "watcher"]  # neither "one" nor "three" was asked
    assert hooks.of("two") is hooks.of("two")  # made once per vendor

    late: list[str] = []
    pm.register(Watcher(late))  # registered after the relay was made: still called
    hooks.of("two").reelay_map_status(payload="p", task=None, channel=channel)
    assert late == ["watcher"]
