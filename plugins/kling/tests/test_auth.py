"""The HS256 JWT: claims, signing, reuse until shortly before expiry."""

from __future__ import annotations

import time

import attrs
import jwt
import pytest

from reelay import Channel, FailureKind, UpstreamError
from reelay_kling.auth import auth_headers, make_token


def test_token_claims_and_header(channel):
    credentials = channel.credentials
    before = int(time.time())
    headers = auth_headers(channel)
    after = int(time.time())
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    assert headers["Content-Type"] == "application/json"

    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, credentials["secret_key"], algorithms=["HS256"])
    assert set(claims) == {"iss", "exp", "nbf"}
    assert claims["iss"] == credentials["access_key"]
    assert before + 1800 <= claims["exp"] <= after + 1800
    assert before - 5 <= claims["nbf"] <= after - 5


def test_token_is_signed_with_the_secret_key():
    token = make_token("ak", "secret-key-one-0123456789abcdefghijkl", now=1_700_000_000)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "secret-key-two-0123456789abcdefghijkl", algorithms=["HS256"], options={"verify_exp": False})
    claims = jwt.decode(
        token, "secret-key-one-0123456789abcdefghijkl", algorithms=["HS256"], options={"verify_exp": False}
    )
    assert claims == {"iss": "ak", "exp": 1_700_001_800, "nbf": 1_699_999_995}


def test_a_token_is_reused_until_shortly_before_it_expires(channel):
    start = 1_700_000_000
    first = auth_headers(channel, clock=lambda: start)["Authorization"]
    assert auth_headers(channel, clock=lambda: start + 60)["Authorization"] == first
    assert auth_headers(channel, clock=lambda: start + 1499)["Authorization"] == first
    renewed = auth_headers(channel, clock=lambda: start + 1500)["Authorization"]
    assert renewed != first  # five minutes before the 30-minute expiry
    claims = jwt.decode(renewed.removeprefix("Bearer "), options={"verify_signature": False})
    assert claims["exp"] == start + 1500 + 1800


def test_a_rotated_secret_signs_a_new_token(channel):
    first = auth_headers(channel, clock=lambda: 1_700_000_000)["Authorization"]
    rotated = attrs.evolve(channel, credentials={**channel.credentials, "secret_key": "rotated-" + "k" * 32})
    assert auth_headers(rotated, clock=lambda: 1_700_000_001)["Authorization"] != first


def test_short_demo_keys_sign_without_warnings():
    # The emulator's demo secret is shorter than PyJWT recommends; warnings are errors here.
    token = make_token("demo-ak", "demo-sk")
    assert token.count(".") == 2


@pytest.mark.parametrize(
    "credentials", [{}, {"access_key": "ak"}, {"secret_key": "sk"}, {"access_key": "", "secret_key": "sk"}]
)
def test_missing_credentials_are_a_channel_failure(credentials):
    channel = Channel(name="broken", vendor="kling", base_url="https://k.test", credentials=credentials)
    with pytest.raises(UpstreamError) as caught:
        auth_headers(channel)
    assert caught.value.kind is FailureKind.CHANNEL
    assert "sk" not in caught.value.message.replace("secret_key", "")
