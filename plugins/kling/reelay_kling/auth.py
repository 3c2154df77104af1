"""Kling's request authentication: a short-lived HS256 JWT.

The token carries ``iss`` = the access key, ``exp`` = now + 30 min and
``nbf`` = now - 5 s (Kling's documented values) and is signed with the secret
key. It is sent as ``Authorization: Bearer <jwt>``. A token is reused until
five minutes before it expires: signing one per request cost an eighth of
the poller's time in the benchmarks.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from reelay import Channel, FailureKind, UpstreamError

TOKEN_LIFETIME = 1800
NOT_BEFORE_SKEW = 5
REFRESH_BEFORE_EXPIRY = 300
ALGORITHM = "HS256"


@contextlib.contextmanager
def vendor_key_length() -> Iterator[None]:
    """Silence PyJWT's short-key warning around a sign or verify.

    Kling issues the secret keys; a demo or test key may be shorter than the
    32 bytes PyJWT recommends for HS256, which is not ours to refuse.
    """
    short_key: type[Warning] | None = getattr(pyjwt(), "InsecureKeyLengthWarning", None)
    if short_key is None:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", short_key)
        yield


def pyjwt() -> Any:
    """PyJWT, imported on first use: it loads the cryptography package, a
    tenth of a second the gateway's start-up need not wait for."""
    import jwt

    return jwt


def make_token(access_key: str, secret_key: str, *, now: float | None = None) -> str:
    """A signed Kling JWT for one request."""
    issued = int(time.time() if now is None else now)
    claims = {"iss": access_key, "exp": issued + TOKEN_LIFETIME, "nbf": issued - NOT_BEFORE_SKEW}
    with vendor_key_length():
        return pyjwt().encode(claims, secret_key, algorithm=ALGORITHM, headers={"typ": "JWT"})


def channel_keys(channel: Channel) -> tuple[str, str]:
    """The channel's ``access_key`` and ``secret_key``, or a CHANNEL failure naming what is missing."""
    missing = [name for name in ("access_key", "secret_key") if not channel.credentials.get(name)]
    if missing:
        raise UpstreamError(
            FailureKind.CHANNEL,
            f"channel {channel.name!r} has no {' or '.join(missing)} for Kling",
            code="channel_misconfigured",
        )
    return channel.credentials["access_key"], channel.credentials["secret_key"]


# (access key, secret key) -> (token, when it was issued). Keyed by the keys
# themselves so a rotated secret never reuses a token signed with the old one.
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}


def auth_headers(channel: Channel, *, clock: Callable[[], float] = time.time) -> dict[str, str]:
    """Headers for one Kling request on ``channel``."""
    keys = channel_keys(channel)
    now = clock()
    cached = _TOKENS.get(keys)
    if cached is None or not 0 <= now - cached[1] < TOKEN_LIFETIME - REFRESH_BEFORE_EXPIRY:
        cached = (make_token(*keys, now=now), now)
        _TOKENS[keys] = cached
    return {"Authorization": f"Bearer {cached[0]}", "Content-Type": "application/json"}


def decode_token(token: str, secret_key: str, *, leeway: float = 0) -> Mapping[str, Any]:
    """Verify a Kling JWT (used by the emulator); raises PyJWT's errors."""
    with vendor_key_length():
        return pyjwt().decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["iss", "exp", "nbf"]},
            leeway=leeway,
        )
