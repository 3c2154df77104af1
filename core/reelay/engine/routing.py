"""Routing: who is calling (tokens), which model a name means, which channels may serve it, in which order."""

from __future__ import annotations

import hmac
import random

import attrs
import pluggy

from ..config import Config, hash_key
from ..errors import AuthenticationError, NotFound, PermissionDenied
from ..models import Channel, ModelSpec, Token
from ..plugins import Registry
from .breakers import Breakers


def configured_channels(config: Config, registry: Registry) -> dict[str, Channel]:
    """The configured channels by name, each with its vendor's default base URL if it names none."""
    channels = {}
    for channel in config.channels:
        vendor = registry.vendors[channel.vendor]
        if not channel.base_url and vendor.default_base_url:
            channel = attrs.evolve(channel, base_url=vendor.default_base_url)
        channels[channel.name] = channel
    return channels


class Router:
    """Tokens, models and the channels a request may go to.

    :param config: the gateway configuration (its tokens).
    :param pm: the plugin manager (``reelay_channel_serves``).
    :param registry: the models and vendors the plugins registered.
    :param channels: the channels by name, as :func:`configured_channels` makes them.
    :param breakers: the channels' health; channels resting are left out of :meth:`order_channels`.
    """

    def __init__(
        self,
        config: Config,
        pm: pluggy.PluginManager,
        registry: Registry,
        channels: dict[str, Channel],
        breakers: Breakers | None = None,
    ):
        self.pm = pm
        self.breakers = breakers
        self.registry = registry
        self.tokens = {token.key_sha256: token for token in config.tokens}
        # Which channels can serve which model is fixed by the configuration:
        # worked out once here, not on every request.
        self._serving: dict[str, list[Channel]] = {
            model.name: [channel for channel in channels.values() if self._serves(model, channel)]
            for model in registry.models.values()
        }

    def authenticate(self, authorization: str | None) -> Token:
        """The token named by an ``Authorization: Bearer`` header; :class:`AuthenticationError` otherwise."""
        if not authorization:
            raise AuthenticationError("missing Authorization header; send 'Authorization: Bearer <token>'")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        digest = hash_key(key)
        token = self.tokens.get(digest)
        # Looking up by hash never compares the secret itself; the final
        # compare is constant-time all the same.
        if token is None or not hmac.compare_digest(token.key_sha256, digest):
            raise AuthenticationError("invalid API token")
        return token

    def _serves(self, model: ModelSpec, channel: Channel) -> bool:
        if channel.vendor != model.vendor or (channel.models and model.name not in channel.models):
            return False
        answer = self.pm.hook.reelay_channel_serves(model=model, channel=channel)
        return answer is None or bool(answer)

    def channels_for(self, model: ModelSpec, group: str) -> list[Channel]:
        """The channels serving ``model`` to tokens of ``group``, in configuration order."""
        return [channel for channel in self._serving.get(model.name, ()) if group in channel.groups]

    def models_for(self, token: Token) -> list[ModelSpec]:
        """The models ``token`` has at least one channel for."""
        return [model for model in self.registry.models.values() if self.channels_for(model, token.group)]

    def resolve_model(self, name: str, token: Token) -> tuple[ModelSpec, list[Channel]]:
        """The model a name (or alias) means, and the channels the token may use for it.

        Raises :class:`NotFound` for an unknown name, :class:`PermissionDenied`
        when the token's group has no channel for it.
        """
        model = self.registry.model(name)
        if model is None:
            raise NotFound(f"model {name!r} does not exist", param="model", code="model_not_found")
        channels = self.channels_for(model, token.group)
        if not channels:
            raise PermissionDenied(f"model {name!r} is not available to this token", param="model")
        return model, channels

    def order_channels(self, channels: list[Channel]) -> list[Channel]:
        """Highest priority first; within a priority, a random order weighted by ``weight``.

        Channels whose breaker is open or disabled are left out (see :mod:`reelay.engine.breakers`).
        """
        if self.breakers is not None:
            channels = self.breakers.admit(channels, _name)
        if len(channels) < 2:
            return channels
        ordered: list[Channel] = []
        for priority in sorted({channel.priority for channel in channels}, reverse=True):
            pool = [channel for channel in channels if channel.priority == priority]
            while pool:
                weights = [channel.weight for channel in pool]
                if sum(weights) <= 0:
                    ordered.extend(pool)
                    break
                pick = random.choices(pool, weights=weights)[0]
                ordered.append(pick)
                pool.remove(pick)
        return ordered


def _name(channel: Channel) -> str:
    return channel.name
