"""The HTTP edge: the app factory, its middleware, the unified and OpenAI-compatible
routes, the OpenAPI document, wire formats and content serving.

``reelay.http.join_url``, ``request_json`` and ``JsonResponse`` (the helpers
plugins use to call their vendor) moved to :mod:`reelay.upstream`; they are
re-exported here for one release.
"""

from ..upstream import JsonResponse, join_url, request_json

__all__ = ["JsonResponse", "join_url", "request_json"]
