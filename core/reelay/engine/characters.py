"""Characters: made from a video on one channel, kept under a public id, used by later requests there."""

from __future__ import annotations

import hmac
import secrets

import structlog

from ..errors import FailureKind, InvalidRequest, NotFound, UpstreamError, UpstreamUnavailable
from ..models import Channel, Character, SourceVideo, Token, UnifiedRequest
from ..store.characters import CharacterTable
from .context import EngineContext
from .derived import not_supported
from .routing import Router

log = structlog.get_logger("reelay")

MAX_NAME_CHARS = 80


def new_character_id() -> str:
    return "char_" + secrets.token_urlsafe(18)


class Characters:
    """Creates and reads a caller's characters; resolves those a request uses."""

    def __init__(self, context: EngineContext, router: Router):
        self.context = context
        self.router = router
        self.table = CharacterTable(context.store)

    async def create(self, token: Token, name: str, video: SourceVideo, model_name: str | None = None) -> Character:
        """A character from an uploaded video, on the first channel of ``model_name`` (else of the
        token's first model with characters). 400 ``not_supported`` when the model has none."""
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidRequest(f"name must be 1 to {MAX_NAME_CHARS} characters", param="name")
        context = self.context
        if model_name is None:
            able = [m for m in self.router.models_for(token) if m.capabilities.characters]
            if not able:
                raise InvalidRequest("no model available to this token supports characters", code="not_supported")
            model_name = able[0].name
        model, channels = self.router.resolve_model(model_name, token)
        if not model.capabilities.characters:
            raise not_supported(model.name, "characters", param="model")
        ordered = self.router.order_channels(channels)
        if not ordered:
            raise UpstreamUnavailable("no channel could take this request", status=503, code="no_channel_available")
        channel = ordered[0]
        hook = context.hooks(channel).reelay_create_character
        awaitable = hook(name=name, video=video, channel=channel, http=context.http)
        if awaitable is None:
            raise not_supported(model.name, "characters", param="model")
        try:
            ref = await context.calls.timed(channel, "character", context.from_vendor(awaitable), model.name)
        except UpstreamError as error:
            if error.kind in (FailureKind.CALLER, FailureKind.CONTENT_POLICY):
                raise InvalidRequest(error.message, code=error.code, param=error.param or "video") from None
            raise UpstreamUnavailable(f"the vendor did not create the character: {error.message}") from None
        character = Character(
            id=new_character_id(),
            owner=token.name,
            name=name,
            model=model.name,
            vendor=model.vendor,
            channel=channel.name,
            created_at=context.clock(),
            vendor_ref=ref,
        )
        await self.table.insert(character)
        log.info("character created", character_id=character.id, channel=channel.name)
        return character

    async def get(self, token: Token, character_id: str) -> Character:
        """The caller's character, checked upstream where the vendor can; 404 for anyone else's."""
        character = await self.table.get(character_id)
        if character is None or not hmac.compare_digest(character.owner, token.name):
            raise NotFound(f"no character {character_id!r}", param="character_id", code="character_not_found")
        channel = self.context.channels.get(character.channel)
        if channel is not None:
            hook = self.context.hooks(channel).reelay_get_character
            awaitable = hook(character=character, channel=channel, http=self.context.http)
            if awaitable is not None:
                try:
                    await self.context.from_vendor(awaitable)
                except UpstreamError as error:
                    if error.kind is FailureKind.NOT_FOUND:
                        raise NotFound(
                            f"character {character_id!r} no longer exists upstream",
                            param="character_id",
                            code="character_not_found",
                        ) from None
                    raise UpstreamUnavailable(f"the vendor did not answer: {error.message}") from None
        return character

    async def pin(self, token: Token, unified: UnifiedRequest) -> tuple[Channel, tuple[str, ...]]:
        """The one channel the request's characters live on and their vendor ids.

        400 (``param="characters"``) for an unknown character, for characters
        of different channels, or of a model other than the request's.
        """
        characters = []
        for public_id in unified.characters:
            character = await self.table.get(public_id)
            if character is None or not hmac.compare_digest(character.owner, token.name):
                raise InvalidRequest(f"no character {public_id!r}", param="characters", code="character_not_found")
            characters.append(character)
        channels = {character.channel for character in characters}
        if len(channels) > 1:
            raise InvalidRequest("the characters were made on different channels", param="characters")
        model, _ = self.router.resolve_model(unified.model, token)
        vendors = {character.vendor for character in characters}
        if vendors != {model.vendor}:
            raise InvalidRequest(
                f"the characters belong to {', '.join(sorted(vendors))} models, not to {model.name!r}",
                param="characters",
            )
        channel = self.context.channels.get(channels.pop())
        if channel is None:
            raise UpstreamUnavailable("the characters' channel is no longer configured", status=503)
        return channel, tuple(character.vendor_ref.id for character in characters)
