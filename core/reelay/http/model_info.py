"""Models that describe themselves: ``GET /v1/models``, ``GET /v1/models/{model_id}`` and their ``x_reelay``.

``x_reelay`` carries what ``reelay plugins`` shows locally, as data: the
model's capabilities and operations, durations and sizes per kind of input,
defaults, precedence rules and limits, and its price per second once billing
is configured (:func:`price_per_second`).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..engine import Dispatcher
from ..engine.routing import ALIAS_OWNER
from ..models import InputKind, ModelSpec, amount_text
from .common import authenticate, dispatcher_of, json_response


def price_per_second(dispatcher: Dispatcher, model: ModelSpec) -> dict[str, str] | None:
    """The model's ``[[prices]]`` entry as ``{"amount", "per_request", "currency"}`` (exact
    decimal text, per generated second), or None when the model has no price."""
    billing = dispatcher.context.billing
    price = billing.prices.get(model.name)
    if price is None:
        return None
    return {
        "amount": amount_text(price.per_second),
        "per_request": amount_text(price.per_request),
        "currency": billing.currency,
    }


def model_modes(model: ModelSpec) -> list[str]:
    """What a model generates from: ``text-to-video`` and/or ``image-to-video`` (which needs an image)."""
    modes = []
    if model.capabilities.text_to_video:
        modes.append("text-to-video")
    if model.capabilities.image_to_video:
        modes.append("image-to-video")
    return modes


def describe_model(model: ModelSpec, dispatcher: Dispatcher) -> dict[str, Any]:
    """The ``x_reelay`` object of one model."""
    vendor = dispatcher.registry.vendors.get(model.vendor)
    capabilities = model.capabilities
    precedence = model.precedence
    info: dict[str, Any] = {
        "vendor": model.vendor,
        "modes": model_modes(model),
        "description": model.description,
        "aliases": list(model.aliases),
        "capabilities": {
            "text_to_video": capabilities.text_to_video,
            "image_to_video": capabilities.image_to_video,
            "end_frame": capabilities.end_frame,
            "max_reference_images": capabilities.max_reference_images,
        },
        "operations": {**capabilities.operations(vendor), "extension_seconds": list(capabilities.extension_seconds)},
        "durations": list(model.durations),
        "default_duration": model.default_duration,
        "sizes": list(model.sizes),
        "default_size": model.default_size,
        "duration_rules": [
            {
                "allowed": list(rule.allowed),
                "sizes": list(rule.sizes),
                "with_reference_images": rule.with_reference_images,
            }
            for rule in model.duration_rules
        ],
        "inputs": {
            kind.value: {
                "durations": list(rules.durations or ()),
                "sizes": list(rules.sizes or ()),
                "prompt_required": bool(rules.prompt_required),
            }
            for kind in InputKind
            for rules in [model.rules_for(kind)]
        },
        "precedence": {
            "duration_sources": list(precedence.duration_sources),
            "image_sources": list(precedence.image_sources),
            "image_roles": [role.value for role in precedence.image_roles],
            "reference_image_sources": list(precedence.reference_image_sources),
            "surplus_images": precedence.surplus_images.value,
            "size_on_image_to_video": precedence.size_on_image_to_video,
            "metadata": precedence.metadata.value,
            "protected_fields": list(precedence.protected_fields),
            "summary": precedence.describe(capabilities),
        },
        "metadata_fields": list(model.metadata_fields),
        "limits": {"max_prompt_chars": model.max_prompt_chars, "max_images": model.max_images},
        "typical_seconds": model.typical_seconds,
    }
    price = price_per_second(dispatcher, model)
    if price is not None:
        info["price_per_second"] = price
    return info


def model_entry(model: ModelSpec, dispatcher: Dispatcher, name: str | None = None) -> dict[str, Any]:
    """One entry of the model list, OpenAI's fields first; ``name`` is the public
    name that reaches the model (qualified where the bare name is ambiguous)."""
    return {
        "id": name or model.name,
        "object": "model",
        "created": 0,
        "owned_by": model.vendor,
        "x_reelay": describe_model(model, dispatcher),
    }


def alias_entry(name: str, dispatcher: Dispatcher) -> dict[str, Any]:
    """An ``[[aliases]]`` entry: owned by the gateway, naming the models it routes to."""
    router = dispatcher.router
    targets = [router.public_name(model) for model in router.alias_targets(name)]
    return {"id": name, "object": "model", "created": 0, "owned_by": ALIAS_OWNER, "x_reelay": {"alias_of": targets}}


async def get_model(request: web.Request) -> web.Response:
    """``GET /v1/models/{model_id}``: a model (qualified name, or alias) the token can use."""
    token = authenticate(request)
    dispatcher = dispatcher_of(request)
    name = request.match_info["model_id"]
    if dispatcher.router.is_alias(name):
        dispatcher.router.routes(name, token)  # 403 when the token's group has no channel for it
        return json_response(alias_entry(name, dispatcher))
    model, _ = dispatcher.router.resolve_model(name, token)
    return json_response(model_entry(model, dispatcher, dispatcher.router.public_name(model)))
