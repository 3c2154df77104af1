"""Reelay plugin for Google Veo, on the Gemini API or on Vertex AI.

Installed as the ``reelay-veo`` distribution; its entry point in the
``reelay`` group is :data:`plugin`, a :class:`reelay.VendorPlugin` that answers
only for channels whose vendor is ``veo``. A channel picks its form with the
``api`` option (``gemini``, the default, or ``vertex``).
"""

from __future__ import annotations

from reelay import (
    Channel,
    CredentialSpec,
    GenerationRequest,
    ModelSpec,
    UpstreamError,
    VendorPlugin,
    VendorSpec,
)
from reelay.emulation import EmulatorSpec

from . import client, wire
from .auth import GEMINI_BASE_URL, channel_config, channel_problems, option_docs
from .emulator import GEMINI_DEMO_CREDENTIALS, VERTEX_DEMO_CREDENTIALS, create_app
from .models import MODELS, VENDOR, ApiForm, models_for, veo_model

__all__ = ["MODELS", "VENDOR", "VENDOR_SPEC", "VeoPlugin", "create_app", "plugin"]

VENDOR_SPEC = VendorSpec(
    name=VENDOR,
    title="Google Veo (Gemini API or Vertex AI)",
    default_base_url=GEMINI_BASE_URL,
    # Which credentials a channel needs depends on its form, so none is
    # required here; channel_config() names what is missing.
    credentials=(
        CredentialSpec("api_key", required=False, description="Gemini API key (api = gemini)"),
        CredentialSpec("project", required=False, secret=False, description="Google Cloud project id (vertex)"),
        CredentialSpec("location", required=False, secret=False, description="Vertex AI region, e.g. us-central1"),
        CredentialSpec(
            "service_account_file",
            required=False,
            secret=False,
            description="path of a service-account JSON key (vertex); tokens are minted and refreshed",
        ),
        CredentialSpec("access_token", required=False, description="a static OAuth access token (vertex)"),
    ),
    options=option_docs(),
    docs_url="https://ai.google.dev/gemini-api/docs/video",
)


#: The two forms' demo channels: the emulator serves both.
_DEMO_FORMS = ((ApiForm.GEMINI, GEMINI_DEMO_CREDENTIALS), (ApiForm.VERTEX, VERTEX_DEMO_CREDENTIALS))


class VeoPlugin(VendorPlugin):
    """Veo's hooks: channel forms in :mod:`.auth`, payloads and statuses in :mod:`.wire`, calls in :mod:`.client`."""

    vendor = VENDOR_SPEC
    models = tuple(model.spec for model in MODELS)
    emulators = tuple(
        EmulatorSpec(
            vendor=VENDOR,
            name=f"veo-{form.value}",
            create_app=create_app,
            credentials=dict(credentials),
            channel_options={"api": form.value, "allow_loopback_images": True},
            models=models_for(form),
        )
        for form, credentials in _DEMO_FORMS
    )

    payload_type = wire.VeoPayload
    validate_channel = staticmethod(channel_problems)

    def serves(self, model: ModelSpec, channel: Channel) -> bool | None:
        if channel_problems(channel):
            return None  # reported by validate_channel
        return channel_config(channel).api in veo_model(model).forms

    def build_payload(self, request: GenerationRequest, model: ModelSpec, channel: Channel) -> wire.VeoPayload:
        return wire.build_payload(request, veo_model(model), _api_of(channel), channel.upstream_model(model))

    submit = staticmethod(client.submit)
    fetch_status = staticmethod(client.fetch_status)
    map_status = staticmethod(wire.map_status)
    open_content = staticmethod(client.open_content)
    extend = staticmethod(client.extend)  # Veo 3.1 only: the models declare it


def _api_of(channel: Channel) -> ApiForm:
    """The channel's form; a misconfigured channel is reported at submission, where it fails over."""
    try:
        return channel_config(channel).api
    except UpstreamError:
        return ApiForm.VERTEX if str(channel.options.get("api", "")).lower() == "vertex" else ApiForm.GEMINI


plugin = VeoPlugin()
