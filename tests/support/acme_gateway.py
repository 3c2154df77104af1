"""Shared test helpers: a real gateway with the acme emulator behind it."""

from __future__ import annotations

import contextlib

import acme
import attrs

from reelay import FailureKind, UpstreamError, VendorRef, hookimpl
from reelay.config import hash_key
from reelay.emulation import serve_app
from reelay.models import Channel, Token
from reelay.plugins import Registry
from reelay.testing import TEST_TOKEN, gateway_config, running_gateway

OTHER_TOKEN = "sk-other-caller-token"
BASIC_TOKEN = "sk-basic-group-token"
ACME_KEY = "acme-test-key-123"


class AcmeFinder:
    """Finds acme jobs by their prompt, as a vendor listing jobs would (``failures`` transient errors first)."""

    def __init__(self, jobs, failures=0):
        self.jobs = jobs
        self.failures = failures
        self.searches = 0

    @hookimpl
    def reelay_find_submission(self, task, channel, http):
        if channel.vendor != "acme":
            return None
        return self._find(task)

    async def _find(self, task):
        self.searches += 1
        if self.searches <= self.failures:
            raise UpstreamError(FailureKind.TRANSIENT, "listing timed out")
        for job in self.jobs.values():
            if job.data["payload"].get("text") == task.prompt:
                return VendorRef(job.id)
        return None


@contextlib.asynccontextmanager
async def acme_gateway(pm, tmp_path, *, generation_seconds=0.3, channel_overrides=None, **config_overrides):
    """A real gateway on loopback with the acme emulator behind it, three tokens."""
    settings = Registry.collect(pm).emulators[0].settings(generation_seconds=generation_seconds)
    async with serve_app(acme.create_emulator(settings)) as emulator_url:
        main = {"name": "acme-main", "vendor": "acme", "base_url": emulator_url, "credentials": {"api_key": ACME_KEY}}
        channels = [
            Channel(**{**main, **(channel_overrides or {})}),
            Channel(
                name="acme-basic",
                vendor="acme",
                base_url=emulator_url,
                groups=("basic",),
                models=("acme-still",),
                credentials={"api_key": ACME_KEY},
            ),
        ]
        config = gateway_config(channels, tmp_path, **config_overrides)
        tokens = (
            Token(name="tester", key_sha256=hash_key(TEST_TOKEN)),
            Token(name="other", key_sha256=hash_key(OTHER_TOKEN)),
            Token(name="basic", key_sha256=hash_key(BASIC_TOKEN), group="basic"),
        )
        config = attrs.evolve(config, tokens=tokens)
        async with running_gateway(config, pm=pm) as gateway:
            gateway.emulators["acme"] = emulator_url
            yield gateway
