"""Reelay: one asynchronous HTTP API in front of many AI video vendors."""

from .errors import (
    Conflict,
    FailureKind,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ReelayError,
    UpstreamError,
    ValueNotAllowed,
    failure_for_http_status,
)
from .hookspecs import hookimpl
from .models import (
    Adjustment,
    Capabilities,
    Channel,
    Character,
    ContentSource,
    CredentialSpec,
    DurationRule,
    GenerationRequest,
    ImageInput,
    ImageRole,
    ImageRules,
    InputKind,
    InputRules,
    MetadataPolicy,
    ModelSpec,
    NormalizationPolicy,
    PrecedenceRules,
    SourceVideo,
    StatusUpdate,
    SurplusImages,
    Task,
    TaskError,
    TaskStatus,
    Token,
    UnifiedRequest,
    VendorRef,
    VendorSpec,
    VideoResult,
)
from .statuses import StatusTable

__version__ = "0.1.0"

__all__ = [
    "Adjustment",
    "Capabilities",
    "Channel",
    "Character",
    "Conflict",
    "ContentSource",
    "CredentialSpec",
    "DurationRule",
    "FailureKind",
    "GenerationRequest",
    "ImageInput",
    "ImageRole",
    "ImageRules",
    "InputKind",
    "InputRules",
    "InvalidRequest",
    "MetadataPolicy",
    "ModelSpec",
    "NormalizationPolicy",
    "NotFound",
    "PermissionDenied",
    "PrecedenceRules",
    "ReelayError",
    "SourceVideo",
    "StatusTable",
    "StatusUpdate",
    "SurplusImages",
    "Task",
    "TaskError",
    "TaskStatus",
    "Token",
    "UnifiedRequest",
    "UpstreamError",
    "ValueNotAllowed",
    "VendorPlugin",
    "VendorRef",
    "VendorSpec",
    "VideoResult",
    "failure_for_http_status",
    "for_vendor",
    "hookimpl",
]


from . import _moved
from .plugins import for_vendor
from .vendor import VendorPlugin

_moved.install()


def __getattr__(name: str):
    # The dispatcher and app factory pull in aiohttp's server and the store;
    # importing them lazily keeps `import reelay` cheap for plugins.
    if name == "Dispatcher":
        from .engine import Dispatcher

        return Dispatcher
    if name in ("create_app", "setup_routes"):
        from .http import app

        return getattr(app, name)
    raise AttributeError(name)
