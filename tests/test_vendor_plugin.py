"""reelay.VendorPlugin: one class per vendor, hooks wired once in the contract."""

from __future__ import annotations

import pytest

from reelay import Channel, CredentialSpec, StatusUpdate, TaskStatus, VendorPlugin, VendorRef, VendorSpec
from reelay.plugins import Registry, make_plugin_manager


class Tiny(VendorPlugin):
    vendor = VendorSpec(name="tiny", credentials=(CredentialSpec("api_key"),))

    def build_payload(self, request, model, channel):
        return {"prompt": request.prompt}

    async def submit(self, payload, request, channel, http):
        return VendorRef(id="job-1")

    def map_status(self, payload, task, channel):
        return StatusUpdate(TaskStatus.COMPLETED)

    async def cancel(self, task, channel, http):
        return None


def tiny_channel(vendor: str = "tiny") -> Channel:
    return Channel(name="c", vendor=vendor, base_url="http://x", credentials={"api_key": "k"})


def test_hooks_answer_only_for_the_plugins_own_vendor():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Tiny()])
    assert pm.hook.reelay_build_payload(request=_request(), model=None, channel=tiny_channel()) == {"prompt": "a fox"}
    assert pm.hook.reelay_build_payload(request=_request(), model=None, channel=tiny_channel("other")) is None


async def test_async_methods_are_handed_to_the_core_as_awaitables():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Tiny()])
    awaitable = pm.hook.reelay_submit(payload={}, request=_request(), channel=tiny_channel(), http=None)
    assert await awaitable == VendorRef(id="job-1")


def test_a_method_not_written_means_the_vendor_cannot():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Tiny()])
    assert pm.hook.reelay_remix(task=None, prompt="p", channel=tiny_channel(), http=None) is None
    cancel = pm.hook.reelay_cancel(task=None, channel=tiny_channel(), http=None)
    assert cancel is not None
    cancel.close()


def test_the_vendor_is_registered_from_the_class_attribute():
    registry = Registry.collect(make_plugin_manager(load_entry_points=False, plugins=[Tiny()]))
    assert "tiny" in registry.vendors


def test_a_plugin_without_a_vendor_is_refused_when_defined():
    with pytest.raises(TypeError, match="vendor"):

        class Nameless(VendorPlugin):
            pass


def _map(payload):
    """A module-level function of the shape a plugin's wire module has."""
    return StatusUpdate(TaskStatus.IN_PROGRESS, progress=payload["pct"])


class Lean(VendorPlugin):
    """Methods taking only the hook arguments they need, one of them a plain function."""

    vendor = VendorSpec(name="lean")
    payload_type = dict
    map_status = staticmethod(_map)

    async def submit(self, payload, http):
        return VendorRef(id=payload["prompt"])


def test_methods_take_the_hook_arguments_they_name():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Lean()])
    update = pm.hook.reelay_map_status(payload={"pct": 40}, task=None, channel=tiny_channel("lean"))
    assert update == StatusUpdate(TaskStatus.IN_PROGRESS, progress=40)


async def test_a_method_may_leave_hook_arguments_out():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Lean()])
    submitted = pm.hook.reelay_submit(payload={"prompt": "p"}, request=None, channel=tiny_channel("lean"), http=None)
    assert await submitted == VendorRef(id="p")


def test_a_payload_of_another_type_is_refused_before_submission():
    pm = make_plugin_manager(load_entry_points=False, plugins=[Lean()])
    with pytest.raises(TypeError, match="Lean cannot submit a list"):
        pm.hook.reelay_submit(payload=["p"], request=None, channel=tiny_channel("lean"), http=None)


def test_a_method_naming_an_argument_its_hook_lacks_is_refused_when_defined():
    with pytest.raises(TypeError, match=r"Typo\.fetch_status takes 'chanel', which reelay_fetch_status does not pass"):

        class Typo(VendorPlugin):
            vendor = VendorSpec(name="typo")

            async def fetch_status(self, task, chanel, http):
                return {}


def _request():
    from reelay import GenerationRequest

    return GenerationRequest(public_id="video_1", model="tiny-1", prompt="a fox", duration=5, size="1280x720")
