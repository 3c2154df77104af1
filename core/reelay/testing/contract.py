"""The contract every vendor plugin passes against its emulator (:class:`VendorContract`),
and the check of a plugin's status table."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest

from ..emulation import EmulatorSettings, EmulatorSpec, Scenario, serve_app
from ..errors import UpstreamError
from ..models import ModelSpec, NormalizationPolicy, StatusUpdate, TaskStatus
from ..plugins import Registry, make_plugin_manager
from ..statuses import UNKNOWN_STATUS, StatusTable
from .gateway import RunningGateway, channel_for, gateway_config, outside_channel, running_gateway
from .media import png_data_uri, sample_image_data_uri


def check_status_table(table: StatusTable, payload_for: Any, map_status: Any) -> None:
    """Check a plugin's status mapping against its whole :class:`~reelay.StatusTable`.

    :param payload_for: ``payload_for(value)`` is a vendor answer carrying the status ``value``.
    :param map_status: ``map_status(payload)`` is the plugin's :class:`~reelay.StatusUpdate` for it.

    Every value must map to its table entry (a terminal one never to a poll
    failure), and a value outside the table must be a transient failure with
    code ``unknown_status``, never the end of the task.
    """
    assert table.statuses, f"{table.vendor} declares no statuses"
    for value, expected in table.statuses.items():
        update = map_status(payload_for(value))
        assert isinstance(update, StatusUpdate), f"{table.vendor} {value!r}: {update!r}"
        assert update.status is expected, f"{table.vendor} {value!r} maps to {update.status}, not {expected}"
        if expected is TaskStatus.FAILED:
            assert update.error is not None and update.error.code, f"{table.vendor} {value!r} fails without a code"
    mapped = set(table.statuses.values())
    for needed in (TaskStatus.IN_PROGRESS, TaskStatus.COMPLETED, TaskStatus.FAILED):
        assert needed in mapped, f"{table.vendor} maps no status to {needed.value}"
    try:
        update = map_status(payload_for("no-such-status"))
    except UpstreamError as error:
        assert error.retryable and error.code == UNKNOWN_STATUS, error
    else:
        raise AssertionError(f"{table.vendor} read an unknown status as {update!r}")


class VendorContract:
    """The contract every vendor plugin must pass against its emulator.

    Set ``vendor`` and the models to exercise; ``emulator`` picks one of
    several emulators a vendor registers (by :attr:`EmulatorSpec.name`).
    """

    vendor: ClassVar[str] = ""
    text_model: ClassVar[str | None] = None
    image_model: ClassVar[str | None] = None
    emulator: ClassVar[str | None] = None
    generation_seconds: ClassVar[float] = 0.6
    #: extra plugin objects to register (the core's own tests use this)
    plugins: ClassVar[tuple[object, ...]] = ()
    load_entry_points: ClassVar[bool] = True
    #: extra body fields for every submission (for example a size the model needs)
    extra_body: ClassVar[dict[str, Any]] = {}
    #: the error code of a task the vendor's moderation blocks after accepting it
    #: (``[emulate:block]``); None when the vendor moderates only at submission
    moderation_after_acceptance: ClassVar[str | None] = "content_policy_violation"
    #: an emulator the plugin does not register: its origin and the credentials it takes
    #: (or override the ``outside_base_url`` fixture to start one)
    base_url: ClassVar[str | None] = None
    credentials: ClassVar[Mapping[str, str]] = {}
    _outside_url: str | None = None

    # ------------------------------------------------------------ fixtures

    @pytest.fixture
    def plugin_manager(self) -> pluggy.PluginManager:
        return make_plugin_manager(load_entry_points=self.load_entry_points, plugins=self.plugins)

    @pytest.fixture
    def outside_base_url(self) -> str | None:
        """The origin of an emulator the plugin does not register: ``base_url`` by default.

        Override it with a fixture that starts one (another process, a sandbox) and returns its origin.
        """
        return self.base_url

    @pytest.fixture
    def emulator_spec(self, plugin_manager: pluggy.PluginManager, outside_base_url: str | None) -> EmulatorSpec | None:
        """The registered emulator the suite starts; None with an outside emulator."""
        self._outside_url = outside_base_url
        if outside_base_url is not None:
            return None
        registry = Registry.collect(plugin_manager)
        for spec in registry.emulators:
            if spec.vendor == self.vendor and (self.emulator is None or spec.label == self.emulator):
                return spec
        raise AssertionError(f"no emulator registered for vendor {self.vendor!r} ({self.emulator or 'any'})")

    @contextlib.asynccontextmanager
    async def gateway(
        self,
        plugin_manager: pluggy.PluginManager,
        spec: EmulatorSpec | None,
        workdir: Path,
        *,
        channels: int = 1,
        normalization: NormalizationPolicy | None = None,
        **settings: Any,
    ) -> AsyncIterator[RunningGateway]:
        """A gateway with ``channels`` channels on the emulator (started here unless it is outside)."""
        if spec is None:
            if settings.get("fail_submissions"):
                pytest.skip("an outside emulator cannot be told to fail submissions")
            outside_url = self._outside_url
            assert outside_url is not None
            chans = [
                outside_channel(
                    self.vendor,
                    outside_url,
                    self.credentials,
                    name=f"contract-{index}",
                    priority=channels - index,
                    normalization=normalization,
                )
                for index in range(channels)
            ]
            async with running_gateway(gateway_config(chans, workdir), pm=plugin_manager) as running:
                running.emulators["outside"] = outside_url
                yield running
            return
        settings.setdefault("generation_seconds", self.generation_seconds)
        emulator_settings: EmulatorSettings = spec.settings(**settings)
        async with serve_app(spec.create_app(emulator_settings)) as emulator_url:
            chans = [
                channel_for(
                    spec,
                    emulator_url,
                    name=f"contract-{index}",
                    priority=channels - index,
                    normalization=normalization,
                )
                for index in range(channels)
            ]
            config = gateway_config(chans, workdir)
            async with running_gateway(config, pm=plugin_manager) as running:
                running.emulators[spec.label] = emulator_url
                yield running

    def model_spec(self, plugin_manager: pluggy.PluginManager, model: str | None) -> ModelSpec:
        spec = Registry.collect(plugin_manager).model(model) if model else None
        if spec is None:
            pytest.skip("this vendor has no model for this case")
        return spec

    def body(self, model: str | None, **fields: Any) -> dict[str, Any]:
        if model is None:
            pytest.skip("this vendor has no model for this case")
        return {"model": model, **self.extra_body, **fields}

    # ------------------------------------------------------------ the contract

    async def test_text_to_video_completes_and_downloads(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a red fox in the snow"))
            assert status == 200, task
            assert task["id"] == task["task_id"] and task["object"] == "video"
            assert task["status"] in ("queued", "in_progress") and task["progress"] == 0
            final, seen = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final
            statuses = {body["status"] for body in seen}
            assert statuses <= {s.value for s in TaskStatus}
            progress = [body["progress"] for body in seen]
            assert progress == sorted(progress), f"progress went down: {progress}"
            assert final["progress"] == 100
            assert final["url"].startswith(gw.base_url) and final["url"].endswith("/content")
            code, headers, data = await gw.client.content(task["id"])
            if emulator_spec is not None:  # an outside emulator's video is its own
                # The emulator's clip for the task's duration and size (or its one fixed video).
                settings = emulator_spec.settings()
                matching = settings.video_for(int(final["seconds"]), final.get("size"))
                assert data in (matching, settings.video)
            assert code == 200 and len(data) > 110
            expected = data
            assert headers["Content-Type"].startswith("video/mp4")
            assert int(headers["Content-Length"]) == len(expected)
            code, headers, data = await gw.client.content(task["id"], range_="bytes=10-109")
            assert code == 206 and data == expected[10:110]
            assert headers["Content-Range"] == f"bytes 10-109/{len(expected)}"
            code, headers, data = await gw.client.content(task["id"], method="HEAD")
            assert code == 200 and data == b"" and int(headers["Content-Length"]) == len(expected)

    async def test_image_to_video_completes(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            body = self.body(self.image_model, prompt="make it move", image=sample_image_data_uri())
            status, task = await gw.client.submit(**body)
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final

    async def test_generation_failure_maps_to_error(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            prompt = f"a doomed fox {Scenario.FAIL.marker}"
            status, task = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "failed"
            assert final["error"]["code"] and final["error"]["message"]
            code, _, body = await gw.client.content(task["id"])
            assert code == 409, body

    async def test_blocked_generation_is_a_content_policy_failure(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            if self.moderation_after_acceptance is None:
                pytest.skip("this vendor moderates only at submission")
            prompt = f"a filtered fox {Scenario.BLOCK.marker}"
            status, task = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "failed"
            assert final["error"]["code"] == self.moderation_after_acceptance, final["error"]

    async def test_rejected_prompt_is_a_400(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            prompt = f"a forbidden fox {Scenario.REJECT.marker}"
            status, body = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 400, body
            assert body["error"]["code"] in ("content_policy_violation", "content_filtered"), body

    async def test_invalid_request_is_a_400_not_retried(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, channels=2) as gw:
            prompt = f"an invalid fox {Scenario.INVALID.marker}"
            status, body = await gw.client.submit(**self.body(self.text_model, prompt=prompt))
            assert status == 400, body
            assert body["error"]["type"] == "invalid_request_error"

    async def test_transient_submission_failure_fails_over(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, channels=2, fail_submissions=1) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a resilient fox"))
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed"

    async def test_every_channel_failing_is_a_502(self, plugin_manager, emulator_spec, tmp_path):
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, fail_submissions=5) as gw:
            status, body = await gw.client.submit(**self.body(self.text_model, prompt="an unlucky fox"))
            assert status in (502, 503), body
            assert body["error"]["type"] == "upstream_error"
            secrets = emulator_spec.credentials if emulator_spec is not None else self.credentials
            for secret in secrets.values():
                assert secret not in str(body)

    async def test_strict_policy_rejects_unoffered_duration(self, plugin_manager, emulator_spec, tmp_path):
        spec = self.model_spec(plugin_manager, self.text_model)
        if not spec.durations:
            pytest.skip("no text model with declared durations")
        offered = set(spec.durations) | {d for rule in spec.duration_rules for d in rule.allowed}
        offered |= {d for rules in spec.inputs for d in rules.durations or ()}
        odd = next(n for n in range(1, 100) if n not in offered)
        strict = NormalizationPolicy.STRICT
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, normalization=strict) as gw:
            body = self.body(spec.name, prompt="a precise fox")
            body.pop("seconds", None)
            status, answer = await gw.client.submit(**body, duration=odd)
            assert status == 400, answer
            for allowed in spec.durations:
                assert str(allowed) in answer["error"]["message"]

    async def test_cancel_as_the_vendor_declares(self, plugin_manager, emulator_spec, tmp_path):
        vendor = Registry.collect(plugin_manager).vendors[self.vendor]
        async with self.gateway(plugin_manager, emulator_spec, tmp_path, generation_seconds=30.0) as gw:
            status, task = await gw.client.submit(**self.body(self.text_model, prompt="a fox to stop"))
            assert status == 200, task
            code, answer = await gw.client.request("POST", f"/v1/videos/{task['id']}/cancel")
            if not vendor.can_cancel:
                assert code == 400 and answer["error"]["code"] == "cancel_not_supported", answer
                return
            assert code == 200 and answer["status"] == "cancelled", answer
            await asyncio.sleep(0.3)  # polls that were due must not bring it back
            assert (await gw.client.get(task["id"]))["status"] == "cancelled"

    async def test_first_and_last_frame_complete(self, plugin_manager, emulator_spec, tmp_path):
        spec = self.model_spec(plugin_manager, self.image_model)
        if not spec.capabilities.end_frame:
            pytest.skip(f"{spec.name} takes no last frame")
        first, last = png_data_uri(640, 360), png_data_uri(640, 360, rgb=(30, 60, 200))
        async with self.gateway(plugin_manager, emulator_spec, tmp_path) as gw:
            body = self.body(spec.name, prompt="from dawn to dusk", images=[first, last])
            status, task = await gw.client.submit(**body)
            assert status == 200, task
            final, _ = await gw.client.wait(task["id"])
            assert final["status"] == "completed", final
