"""A kit for plugin authors: a real gateway on loopback, and a contract suite.

Subclass :class:`VendorContract` in your plugin's tests::

    from reelay.testing import VendorContract

    class TestAcmeContract(VendorContract):
        vendor = "acme"
        text_model = "acme-1"
        image_model = "acme-1"

Each test starts your plugin's emulator and a real Reelay gateway on
loopback with a channel pointing at it, then drives the gateway's HTTP API:
submit, every status mapped, progress never decreasing, failures mapped to
error codes, content download with ``Range``, fail-over between channels,
cancel (or its refusal) as the vendor declares it, and first and last
frames where the model takes them.

What differs between vendors is a setting, not an override:
``moderation_after_acceptance`` is the code a task fails with when the
vendor's moderation blocks it after accepting it (None when it moderates only
at submission). To run the suite against an emulator your plugin does not
register (another process, a vendor's sandbox), set ``base_url`` (or
override the ``outside_base_url`` fixture to start it) and ``credentials``;
the cases that need to steer the emulator's failures (``fail_submissions``)
are then skipped, and the prompt markers of
:class:`reelay.emulation.Scenario` must be honoured by that emulator.
"""

from __future__ import annotations

from .callbacks import (
    CallbackRun,
    callback_gateway,
    callback_receiver,
    callback_run,
    check_callbacks_end_tasks,
    check_foreign_callbacks_change_nothing,
    free_port,
)
from .contract import VendorContract, check_status_table
from .gateway import (
    TEST_TOKEN,
    GatewayClient,
    RunningGateway,
    channel_for,
    gateway_config,
    interrupted_submission,
    outside_channel,
    running_gateway,
)
from .media import fast_poller, mp4_facts, png_data_uri, sample_image_data_uri

__all__ = [
    "TEST_TOKEN",
    "CallbackRun",
    "GatewayClient",
    "RunningGateway",
    "VendorContract",
    "callback_gateway",
    "callback_receiver",
    "callback_run",
    "channel_for",
    "check_callbacks_end_tasks",
    "check_foreign_callbacks_change_nothing",
    "check_status_table",
    "fast_poller",
    "free_port",
    "gateway_config",
    "interrupted_submission",
    "mp4_facts",
    "outside_channel",
    "png_data_uri",
    "running_gateway",
    "sample_image_data_uri",
]
