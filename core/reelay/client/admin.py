"""The admin API from the client's side: channel health and every token's tasks.

admin = AdminClient("http://127.0.0.1:8080", os.environ["REELAY_ADMIN_KEY"])
admin.channels()["data"]
admin.disable("video-main")
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from . import ReelayClient


class AdminClient(ReelayClient):
    """A :class:`ReelayClient` holding the admin key (``[admin] key``) instead of a caller's token."""

    def channels(self) -> dict[str, Any]:
        """Each channel's health, breaker state and tasks in flight (``GET /admin/channels``)."""
        page, _ = self.request("GET", "/admin/channels")
        return page

    def disable(self, channel: str) -> dict[str, Any]:
        """Take a channel out of service until :meth:`enable`."""
        row, _ = self.request("POST", f"/admin/channels/{urllib.parse.quote(channel, safe='')}/disable")
        return row

    def enable(self, channel: str) -> dict[str, Any]:
        """Put a channel back in service, its breaker closed."""
        row, _ = self.request("POST", f"/admin/channels/{urllib.parse.quote(channel, safe='')}/enable")
        return row

    def tasks(
        self,
        *,
        status: str | None = None,
        channel: str | None = None,
        token: str | None = None,
        limit: int = 20,
        after: str | None = None,
    ) -> dict[str, Any]:
        """Every token's tasks, newest first (``GET /admin/tasks``)."""
        query = {"status": status, "channel": channel, "token": token, "limit": limit, "after": after}
        page, _ = self.request("GET", "/admin/tasks", query=query)
        return page

    def reload(self) -> dict[str, Any]:
        """Re-read the gateway's configuration file (``POST /admin/reload``); what changed."""
        summary, _ = self.request("POST", "/admin/reload")
        return summary
