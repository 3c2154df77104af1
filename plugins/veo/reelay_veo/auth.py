"""A Veo channel's form, endpoints and credentials.

Gemini channels send their API key as ``x-goog-api-key``. Vertex channels
send ``Authorization: Bearer``: a static ``access_token``, or one minted from
a service-account JSON file by Google's ``google-auth`` library. Its refresh
is blocking (it signs a JWT and calls the token endpoint), so it runs in a
thread, and the token is cached until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import threading
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from reelay import Channel, FailureKind, UpstreamError

from .models import ApiForm

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
STORAGE_BASE_URL = "https://storage.googleapis.com"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

#: A cached token is refreshed this long before it expires.
REFRESH_MARGIN = datetime.timedelta(minutes=5)

_LOCATION = re.compile(r"^[a-z0-9-]{1,63}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9.:-]{0,127}$")
_TRUE = frozenset({"1", "true", "yes", "on"})


@frozen
class VeoChannel:
    """What a Veo channel's configuration says, checked."""

    api: ApiForm
    base_url: str
    storage_url: str = STORAGE_BASE_URL
    allow_loopback_images: bool = False
    project: str | None = None
    location: str | None = None

    def vertex_model_path(self, model: str) -> str:
        return f"/v1/projects/{self.project}/locations/{self.location}/publishers/google/models/{model}"


def channel_problems(channel: Channel) -> list[str]:
    """What keeps a channel from working, as ``key: reason`` lines (empty when fine)."""
    api_text = str(channel.options.get("api") or ApiForm.GEMINI.value).lower()
    if api_text not in {form.value for form in ApiForm}:
        return [f"api: must be 'gemini' or 'vertex', not {api_text!r}"]
    credentials = channel.credentials
    if ApiForm(api_text) is ApiForm.GEMINI:
        return [] if credentials.get("api_key") else ["credentials.api_key: required on a Gemini channel"]
    problems = []
    project, location = credentials.get("project"), credentials.get("location")
    if not project or not _PROJECT.match(project):
        problems.append("credentials.project: a Vertex channel needs a Google Cloud project id")
    if not location or not _LOCATION.match(location):
        problems.append("credentials.location: a Vertex channel needs a region, for example us-central1")
    if bool(credentials.get("service_account_file")) == bool(credentials.get("access_token")):
        problems.append("credentials: a Vertex channel needs exactly one of service_account_file or access_token")
    return problems


def channel_config(channel: Channel) -> VeoChannel:
    """Read a channel's Veo options and credentials.

    :raises UpstreamError: ``CHANNEL`` for a configuration this channel
        cannot work with (so the dispatcher tries the next channel; start-up
        validation reports the same problems first).
    """
    problems = channel_problems(channel)
    if problems:
        raise _misconfigured(channel, "; ".join(problems))
    options, credentials = channel.options, channel.credentials
    api = ApiForm(str(options.get("api") or ApiForm.GEMINI.value).lower())
    allow_loopback = _flag(options.get("allow_loopback_images"))
    storage_url = str(options.get("storage_url") or STORAGE_BASE_URL)
    if api is ApiForm.GEMINI:
        return VeoChannel(api, channel.base_url or GEMINI_BASE_URL, storage_url, allow_loopback)
    project, location = credentials["project"], credentials["location"]
    base_url = channel.base_url
    if not base_url or base_url.rstrip("/") == GEMINI_BASE_URL:  # the vendor default is the Gemini one
        base_url = vertex_base_url(location)
    return VeoChannel(api, base_url, storage_url, allow_loopback, project, location)


def vertex_base_url(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


async def auth_headers(channel: Channel, config: VeoChannel | None = None) -> dict[str, str]:
    """The headers that authenticate a request on this channel."""
    config = config or channel_config(channel)
    if config.api is ApiForm.GEMINI:
        return {"x-goog-api-key": channel.credentials["api_key"].strip()}
    return {"Authorization": f"Bearer {await access_token(channel)}"}


async def access_token(channel: Channel) -> str:
    """A Vertex channel's OAuth access token: the static one, or a fresh service-account token."""
    static = channel.credentials.get("access_token")
    if static:
        return static.strip()
    return await _source_for(channel.credentials["service_account_file"]).token()


def secrets_of(channel: Channel) -> tuple[str, ...]:
    """Credential values that must never appear in a message."""
    names = ("api_key", "access_token")
    values = [channel.credentials.get(name, "") for name in names]
    source = _SOURCES.get(channel.credentials.get("service_account_file", ""))
    if source is not None and source.cached is not None:
        values.append(source.cached)
    return tuple(value for value in values if value and len(value) >= 4)


def scrub(text: str, channel: Channel) -> str:
    for secret in secrets_of(channel):
        text = text.replace(secret, "[redacted]")
    return text


# ---------------------------------------------------------------- service accounts


class ServiceAccountTokens:
    """OAuth access tokens for one service-account file, cached until shortly before expiry.

    google-auth's refresh blocks, so it runs in a worker thread; a lock in
    that thread makes concurrent callers share one refresh.
    """

    def __init__(self, path: str):
        self.path = path
        self._credentials: Any = None
        self._lock = threading.Lock()
        self.cached: str | None = None
        self._expiry: datetime.datetime | None = None
        self.refreshes = 0

    def fresh(self) -> bool:
        if self.cached is None:
            return False
        if self._expiry is None:
            return True
        return _utcnow() < self._expiry - REFRESH_MARGIN

    async def token(self) -> str:
        if self.fresh():
            assert self.cached is not None
            return self.cached
        return await asyncio.to_thread(self._refresh)

    def _refresh(self) -> str:
        import google.auth.exceptions
        import google.auth.transport.requests
        from google.oauth2 import service_account

        with self._lock:
            if self.fresh():  # another caller refreshed while this one waited
                assert self.cached is not None
                return self.cached
            try:
                if self._credentials is None:
                    self._credentials = service_account.Credentials.from_service_account_file(
                        self.path, scopes=[CLOUD_PLATFORM_SCOPE]
                    )
                self._credentials.refresh(google.auth.transport.requests.Request())
            except (OSError, ValueError, KeyError) as error:
                raise UpstreamError(
                    FailureKind.CHANNEL,
                    f"the service-account file {self.path} could not be used: {type(error).__name__}",
                    code="channel_misconfigured",
                ) from None
            except google.auth.exceptions.TransportError:
                raise UpstreamError(
                    FailureKind.TRANSIENT, "Google's token endpoint could not be reached", code="upstream_unreachable"
                ) from None
            except google.auth.exceptions.RefreshError as error:
                kind = FailureKind.TRANSIENT if getattr(error, "retryable", False) else FailureKind.CHANNEL
                reason = error.args[0] if error.args and isinstance(error.args[0], str) else "refused"
                raise UpstreamError(
                    kind, f"Google refused the service account's token request: {reason[:200]}", code="channel_auth"
                ) from None
            self.refreshes += 1
            self.cached = self._credentials.token
            expiry = self._credentials.expiry
            self._expiry = expiry.replace(tzinfo=None) if expiry is not None else None
            assert self.cached is not None
            return self.cached


_SOURCES: dict[str, ServiceAccountTokens] = {}
_SOURCES_LOCK = threading.Lock()


def _source_for(path: str) -> ServiceAccountTokens:
    with _SOURCES_LOCK:
        source = _SOURCES.get(path)
        if source is None:
            source = _SOURCES[path] = ServiceAccountTokens(path)
        return source


def forget_tokens() -> None:
    """Drop every cached service-account token (tests, key rotation)."""
    with _SOURCES_LOCK:
        _SOURCES.clear()


def _utcnow() -> datetime.datetime:
    # google-auth keeps expiry as a naive UTC datetime.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE if value is not None else False


def _misconfigured(channel: Channel, reason: str) -> UpstreamError:
    return UpstreamError(FailureKind.CHANNEL, f"channel {channel.name!r}: {reason}", code="channel_misconfigured")


def option_docs() -> Mapping[str, str]:
    return {
        "api": "which Google API serves Veo: gemini (default, API key) or vertex (OAuth)",
        "allow_loopback_images": "allow image URLs on loopback addresses (tests, demos); private ones stay refused",
        "storage_url": "the Cloud Storage JSON API origin for gs:// results (default https://storage.googleapis.com)",
    }
