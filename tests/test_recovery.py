"""Interrupted submissions: found upstream and adopted, sent again only where safe, else failed.

Each test leaves the store as a gateway killed between recording a task and
saving the vendor's reference leaves it (``reelay.testing.interrupted_submission``),
starts a gateway on the same store and counts the vendor's jobs.
"""

from __future__ import annotations

import contextlib

import acme
import attrs
import pytest
from acme_gateway import AcmeFinder

from reelay import UnifiedRequest
from reelay.emulation import serve_app
from reelay.plugins import Registry
from reelay.testing import channel_for, gateway_config, interrupted_submission, running_gateway


@contextlib.asynccontextmanager
async def acme_upstream(acme_spec, tmp_path):
    app = acme.create_emulator(acme_spec.settings(generation_seconds=0.2))
    async with serve_app(app) as url:
        yield app[acme.JOBS], gateway_config([channel_for(acme_spec, url)], tmp_path)


@pytest.fixture
def acme_flags(monkeypatch):
    """Declare flags on acme's VendorSpec for the gateways of one test."""

    def declare(**flags):
        collect = Registry.collect

        def with_flags(pm):
            registry = collect(pm)
            registry.vendors["acme"] = attrs.evolve(registry.vendors["acme"], **flags)
            return registry

        monkeypatch.setattr(Registry, "collect", staticmethod(with_flags))

    return declare


FOX = UnifiedRequest(model="acme-1", prompt="an interrupted fox")


async def test_interrupted_submission_found_upstream_is_adopted_not_sent_again(acme_pm, acme_spec, tmp_path):
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        acme_pm.register(AcmeFinder(jobs))
        task_id = await interrupted_submission(config, FOX, pm=acme_pm)
        assert len(jobs) == 1
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
            assert final["status"] == "completed", final
            stored = await gw.dispatcher.store.get(task_id)
        assert len(jobs) == 1 and stored.vendor_ref.id in jobs


async def test_interrupted_submission_of_a_vendor_that_cannot_search_fails_with_submission_interrupted(
    acme_pm, acme_spec, tmp_path
):
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        task_id = await interrupted_submission(config, FOX, pm=acme_pm)
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
        assert final["status"] == "failed" and final["error"]["code"] == "submission_interrupted", final
        assert final["progress"] == 0
        assert len(jobs) == 1  # never generated twice


async def test_interrupted_submission_not_found_fails_when_the_search_is_not_authoritative(
    acme_pm, acme_spec, tmp_path
):
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        acme_pm.register(AcmeFinder(jobs))
        task_id = await interrupted_submission(config, FOX, pm=acme_pm, reach_vendor=False)
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
        assert final["error"]["code"] == "submission_interrupted" and len(jobs) == 0


async def test_interrupted_submission_not_found_is_sent_again_when_the_search_is_authoritative(
    acme_pm, acme_spec, tmp_path, acme_flags
):
    acme_flags(search_authoritative=True)
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        acme_pm.register(AcmeFinder(jobs))
        task_id = await interrupted_submission(config, FOX, pm=acme_pm, reach_vendor=False)
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
        assert final["status"] == "completed" and len(jobs) == 1


async def test_interrupted_submission_is_sent_again_when_the_vendor_declares_resubmit_safe(
    acme_pm, acme_spec, tmp_path, acme_flags
):
    acme_flags(resubmit_safe=True)
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        task_id = await interrupted_submission(config, FOX, pm=acme_pm, reach_vendor=False)
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
        assert final["status"] == "completed" and len(jobs) == 1


async def test_a_failing_search_is_tried_again_later(acme_pm, acme_spec, tmp_path):
    async with acme_upstream(acme_spec, tmp_path) as (jobs, config):
        finder = AcmeFinder(jobs, failures=1)
        acme_pm.register(finder)
        task_id = await interrupted_submission(config, FOX, pm=acme_pm)
        async with running_gateway(config, pm=acme_pm) as gw:
            final, _ = await gw.client.wait(task_id)
        assert final["status"] == "completed" and finder.searches == 2 and len(jobs) == 1
