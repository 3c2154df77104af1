"""reelay.scrub.Scrubber: what a caller must never see in a vendor's message."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelay.scrub import Scrubber

SECRET = "AKx9Q2mZ7rT4"


@pytest.mark.parametrize(
    ("message", "kept", "gone"),
    [
        ("invalid signature: secret_key=AbCdEf123456", "invalid signature", "AbCdEf123456"),
        ("access_key=AKIA1234567890 is not valid", "is not valid", "AKIA1234567890"),
        ("Incorrect API key provided: sk-proj-abcdefgh12345678", "Incorrect API key provided", "sk-proj-abcdefgh123"),
        ("API key not valid: AIzaSyA1234567890abcdefghijklmnopq", "API key not valid", "AIzaSyA1234567890"),
        ("Authorization: Bearer eyJhbGciOi.eyJpc3MiOiJ4.sig", "Authorization", "eyJhbGciOi"),
        (
            "Kling error 1203: task 443724026190264457 does not exist (request_id a1b2c3)",
            "does not exist",
            "443724026190264457",
        ),
        ("Operation projects/p-1/locations/us-central1/operations/987 failed", "failed", "projects/p-1"),
        ("no task 'video_68d7512d07848190b3e45da0ecbebcde'", "no task", "video_68d7512d"),
        ("see https://api.vendor.example.com/v1/tasks/42?sig=abc for details", "for details", "vendor.example"),
        ("upstream api.vendor.com timed out", "timed out", "api.vendor.com"),
    ],
)
def test_vendor_messages_keep_the_reason_and_lose_ids_urls_and_credentials(message, kept, gone):
    scrubbed = Scrubber().scrub(message)
    assert kept in scrubbed
    assert gone not in scrubbed


def test_every_configured_credential_is_removed_whatever_its_shape():
    scrubbed = Scrubber([SECRET, "short"]).scrub(f"the vendor said: your key {SECRET} (len 12) is revoked")
    assert SECRET not in scrubbed
    assert "is revoked" in scrubbed


@given(prefix=st.text(max_size=40), suffix=st.text(max_size=40))
def test_a_configured_secret_never_survives(prefix, suffix):
    assert SECRET not in Scrubber([SECRET]).scrub(prefix + SECRET + suffix)


def test_an_ordinary_reason_passes_unchanged():
    reason = "The prompt was flagged by the safety system; duration must be 5 or 10 seconds."
    assert Scrubber(["abcdef123"]).scrub(reason) == reason
