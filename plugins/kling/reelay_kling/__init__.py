"""Reelay plugin for Kling (Kuaishou): text-to-video, image-to-video and video extension.

Installed as the ``reelay-kling`` distribution; its entry point in the
``reelay`` group is :data:`plugin`, a :class:`reelay.VendorPlugin` that answers
only for channels whose vendor is ``kling``.
"""

from __future__ import annotations

from reelay import (
    Channel,
    CredentialSpec,
    GenerationRequest,
    ModelSpec,
    StatusUpdate,
    Task,
    VendorPlugin,
    VendorSpec,
)
from reelay.emulation import EmulatorSpec

from . import client, wire
from .emulator import DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, kling_model

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "KlingPlugin", "create_app", "plugin"]

__version__ = "0.1.0"

DEFAULT_BASE_URL = "https://api-singapore.klingai.com"

VENDOR_SPEC = VendorSpec(
    name=VENDOR,
    title="Kling (Kuaishou)",
    default_base_url=DEFAULT_BASE_URL,
    credentials=(
        CredentialSpec("access_key", description="Kling AccessKey (the JWT issuer)"),
        CredentialSpec("secret_key", description="Kling SecretKey (signs the JWT)"),
    ),
    docs_url="https://app.klingai.com/global/dev/document-api",
    search_authoritative=True,  # interrupted submissions are found by external_task_id
    callbacks=True,  # Kling posts the task object to callback_url on each change
)


class KlingPlugin(VendorPlugin):
    """Kling's hooks: payloads and statuses in :mod:`.wire`, calls in :mod:`.client`."""

    vendor = VENDOR_SPEC
    models = tuple(model.spec for model in MODELS)
    emulators = (EmulatorSpec(vendor=VENDOR, create_app=create_app, credentials=dict(DEMO_CREDENTIALS)),)

    payload_type = wire.KlingPayload

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.KlingPayload:
        return wire.build_payload(request, kling_model(model), channel.upstream_model(model))

    submit = staticmethod(client.submit)
    fetch_status = staticmethod(client.fetch_status)
    map_status = staticmethod(wire.map_status)
    open_content = staticmethod(client.open_content)
    find_submission = staticmethod(client.find_submission)
    extend = staticmethod(client.extend)  # kling-v1 and kling-v1-6 only: the models declare it

    def parse_callback(self, body: bytes, task: Task) -> StatusUpdate | None:
        return wire.parse_callback(body, task)


plugin = KlingPlugin()
