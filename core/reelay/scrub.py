"""One scrubber for every vendor message a caller can see.

Plugins raise :class:`reelay.UpstreamError` and report :class:`reelay.TaskError`
with the vendor's own words, and vendors put much in them that the caller must
not see: the upstream's task and request ids, resource paths, URLs and hosts,
and sometimes the channel's credential quoted back. The engine passes every such
message through :meth:`Scrubber.scrub` before it reaches a response, a task
or a log line above debug; the vendor's human reason stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Shorter configured values are not scrubbed by value: they would eat ordinary words.
_MIN_SECRET_LENGTH = 6

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value / key: value where the key names a secret
    (
        re.compile(
            r"(?i)\b((?:api[_-]?key|access[_-]?key|secret[_-]?key|secret|token|access[_-]?token|password|"
            r"authorization|signature|x-goog-api-key|key))(\s*[=:]\s*)(\"?)(?:bearer\s+)?[^\s\"',;&)]+"
        ),
        r"\1\2\3[redacted]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "[redacted]"),  # a JWT
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[redacted]"),  # OpenAI-style keys
    (re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"), "[redacted]"),  # Google API keys
    (re.compile(r"\bya29\.[0-9A-Za-z._-]+"), "[redacted]"),  # Google OAuth access tokens
    # Where a message names an address, the vendor is the last thing the caller should learn.
    (re.compile(r"(?i)\b(?:https?|wss?|gs|s3)://[^\s\"'<>)]+"), "[url]"),
    (
        re.compile(r"(?i)\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|cn|dev|cloud|app)\b(?::\d+)?(?:/[^\s\"'<>)]*)?"),
        "[host]",
    ),
    # Resource paths such as projects/p/locations/l/.../operations/123
    (re.compile(r"\b(?:projects|models|operations|tasks|files|generations)/[^\s\"'<>),;]+"), "[id]"),
    (re.compile(r"(?i)\b(request[_ -]?id|trace[_ -]?id|task[_ -]?id|job[_ -]?id)(\s*[=:]?\s*)[\w.-]+"), r"\1\2[id]"),
    (re.compile(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "[id]"),  # UUIDs
    (re.compile(r"\b(?:video|task|gen|cgt|op|job|req|run)_[A-Za-z0-9_-]{6,}\b"), "[id]"),  # prefixed ids
    (re.compile(r"\b\d{12,}\b"), "[id]"),  # long numeric ids
    (re.compile(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{24,}\b"), "[redacted]"),  # key-shaped
)
_QUOTED_ID = re.compile(r"'\[id\]'|\"\[id\]\"")


class Scrubber:
    """Removes what a caller must not see from a vendor's message.

    :param secrets: every configured credential value (all channels'); each is
        removed wherever it appears, whatever shape it has.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        values = sorted({value for value in secrets if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH})
        # Longest first, so a value containing another is removed whole.
        values.sort(key=len, reverse=True)
        self._secrets = re.compile("|".join(re.escape(value) for value in values)) if values else None

    def scrub(self, text: str | None) -> str:
        """``text`` without credentials, ids, URLs or hosts; the human reason kept.

        >>> Scrubber(["s3cr3t-value"]).scrub("bad key s3cr3t-value for https://api.example.com/v1/x")
        'bad key [redacted] for [url]'
        """
        if not text:
            return text or ""
        if self._secrets is not None:
            text = self._secrets.sub("[redacted]", text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return _QUOTED_ID.sub("[id]", text)


#: A scrubber that knows no configured secret (patterns only).
PATTERNS_ONLY = Scrubber()
