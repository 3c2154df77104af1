"""Import paths that moved when ``core/reelay`` was laid out by layer (0.2).

The old paths keep working for one release, with a ``DeprecationWarning``
naming the new one; they are removed in 0.3. See the README's changelog.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module -> the module that now holds what it exported
MOVED = {
    "reelay.server": "reelay.http.app",
    "reelay.dispatcher": "reelay.engine",
    "reelay.poller": "reelay.engine.poller",
    "reelay.content": "reelay.engine.keeping",
    "reelay.openai_compat": "reelay.http.openai",
    "reelay.openapi": "reelay.http.openapi",
    "reelay.wire": "reelay.http.wire",
    "reelay.ranges": "reelay.http.ranges",
    "reelay.client_cli": "reelay.client.cli",
}


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module path with the module that replaced it."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path is removed in reelay 0.3",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        pass  # the module is already imported


def install() -> None:
    if not any(isinstance(finder, _MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
