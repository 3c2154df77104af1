"""Routing: who is calling (tokens), which model a name means, which channels may serve it, in which order."""

from __future__ import annotations

import hmac
import random
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import attrs
import pluggy

from ..config import Config, bare_names, channel_lists, hash_key, resolve_name
from ..errors import AuthenticationError, NotFound, PermissionDenied
from ..models import Channel, ModelSpec, Token
from ..plugins import Registry, qualified_name
from .breakers import Breakers
from .keys import KeyRing

T = TypeVar("T")

#: ``owned_by`` of a configured alias in ``GET /v1/models``: the gateway's own name.
ALIAS_OWNER = "reelay"


class Route(NamedTuple):
    """One way to serve a request: a channel, and the model it serves it with."""

    model: ModelSpec
    channel: Channel


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
    :param keys: the keys of multi-key channels; a channel with none in service is left out too.
    """

    def __init__(
        self,
        config: Config,
        pm: pluggy.PluginManager,
        registry: Registry,
        channels: dict[str, Channel],
        breakers: Breakers | None = None,
        keys: KeyRing | None = None,
    ):
        self.pm = pm
        self.breakers = breakers
        self.keys = keys
        self.registry = registry
        self.configure(config, channels)

    def configure(self, config: Config, channels: dict[str, Channel]) -> None:
        """Take tokens, channels and names from ``config`` (at start, and on a reload: no await,
        so a request sees the old routing or the new, never a mix). Channels in
        ``channels`` that ``config`` does not list (draining after a reload) are not routed to."""
        listed = {channel.name for channel in config.channels}
        routable = [channel for channel in channels.values() if channel.name in listed]
        # Which channels can serve which model, and what each name means, is
        # fixed by the configuration: worked out once here, not on every request.
        serving: dict[str, list[Channel]] = {
            key: [channel for channel in routable if self._serves(model, channel)]
            for key, model in self.registry.specs.items()
        }
        settled, _ = bare_names(config, self.registry)
        aliases: dict[str, list[ModelSpec]] = {
            alias.name: [m for m in (resolve_name(t, self.registry, settled) for t in alias.targets) if m]
            for alias in config.aliases
        }
        self.tokens = {token.key_sha256: token for token in config.tokens}
        self._serving, self._settled, self._aliases = serving, settled, aliases

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
        if not channel_lists(channel, model, self.registry):
            return False
        answer = self.pm.hook.reelay_channel_serves(model=model, channel=channel)
        return answer is None or bool(answer)

    def channels_for(self, model: ModelSpec, group: str) -> list[Channel]:
        """The channels serving ``model`` to tokens of ``group``, in configuration order."""
        return [channel for channel in self._serving.get(qualified_name(model), ()) if group in channel.groups]

    def models_for(self, token: Token) -> list[ModelSpec]:
        """The models ``token`` has at least one channel for."""
        return [model for model in self.registry.specs.values() if self.channels_for(model, token.group)]

    def public_name(self, model: ModelSpec) -> str:
        """The name ``GET /v1/models`` lists a model by: its bare name where that
        means this model, else its qualified ``vendor/model``."""
        bare = self._settled.get(model.name) or self.registry.model(model.name)
        return model.name if bare is model else qualified_name(model)

    def model_names_for(self, token: Token) -> list[tuple[str, str]]:
        """``(name, owned_by)`` of the models and aliases ``token`` may use."""
        names = [(self.public_name(model), model.vendor) for model in self.models_for(token)]
        for alias, targets in self._aliases.items():
            if any(self.channels_for(model, token.group) for model in targets):
                names.append((alias, ALIAS_OWNER))
        return names

    def alias_targets(self, name: str) -> list[ModelSpec]:
        """The models a configured alias routes to (empty for any other name)."""
        return list(self._aliases.get(name, ()))

    def is_alias(self, name: str) -> bool:
        """Whether ``name`` is a configured ``[[aliases]]`` name."""
        return name in self._aliases

    def resolve_model(self, name: str, token: Token) -> tuple[ModelSpec, list[Channel]]:
        """The model a name (qualified, bare, or a model's own alias) means, and the channels the token may use.

        Raises :class:`NotFound` for an unknown name (or a bare name several
        vendors register that the configuration left open),
        :class:`PermissionDenied` when the token's group has no channel for it.
        """
        model = resolve_name(name, self.registry, self._settled)
        if model is None:
            if name in self.registry.ambiguous:
                qualified = ", ".join(f"{vendor}/{name}" for vendor in self.registry.ambiguous[name])
                raise NotFound(
                    f"model {name!r} is offered by several vendors; name one: {qualified}",
                    param="model",
                    code="model_not_found",
                )
            raise NotFound(f"model {name!r} does not exist", param="model", code="model_not_found")
        channels = self.channels_for(model, token.group)
        if not channels:
            raise PermissionDenied(f"model {name!r} is not available to this token", param="model")
        return model, channels

    def routes(self, name: str, token: Token) -> list[Route]:
        """Every (model, channel) that may serve ``name`` for ``token``, in configuration order.

        A model gives one route per channel; an alias one per channel of each
        of its targets. Raises as :meth:`resolve_model`.
        """
        targets = self._aliases.get(name)
        if targets is None:
            model, channels = self.resolve_model(name, token)
            return [Route(model, channel) for channel in channels]
        routes = [Route(model, channel) for model in targets for channel in self.channels_for(model, token.group)]
        if not routes:
            raise PermissionDenied(f"model {name!r} is not available to this token", param="model")
        return routes

    def order_channels(self, channels: list[Channel]) -> list[Channel]:
        """Highest priority first; within a priority, a random order weighted by ``weight``.

        Channels whose breaker is open or disabled are left out (see :mod:`reelay.engine.breakers`).
        """
        if self.breakers is not None:
            channels = self.breakers.admit(channels, _name)
        if self.keys is not None:
            channels = [channel for channel in channels if self.keys.available(channel)]
        return _weighted_order(channels, lambda channel: channel)

    def order_routes(self, routes: list[Route]) -> list[Route]:
        """Routes ordered by their channels, as :meth:`order_channels` orders channels."""
        if self.breakers is not None:
            routes = self.breakers.admit(routes, lambda route: route.channel.name)
        if self.keys is not None:
            routes = [route for route in routes if self.keys.available(route.channel)]
        return _weighted_order(routes, lambda route: route.channel)


def _name(channel: Channel) -> str:
    return channel.name


def _weighted_order(items: list[T], channel_of: Callable[[T], Channel]) -> list[T]:
    if len(items) < 2:
        return items
    ordered: list[T] = []
    for priority in sorted({channel_of(item).priority for item in items}, reverse=True):
        pool = [item for item in items if channel_of(item).priority == priority]
        while pool:
            weights = [channel_of(item).weight for item in pool]
            if sum(weights) <= 0:
                ordered.extend(pool)
                break
            pick = random.choices(pool, weights=weights)[0]
            ordered.append(pick)
            pool.remove(pick)
    return ordered
