"""The folders of ``core/reelay`` are layers, and imports run one way.

http -> engine -> store -> contract; the client beside the server, never inside
it; nothing in the contract imports the engine or the HTTP edge; no circles.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "core" / "reelay"

#: layer -> the layers it must not import
FORBIDDEN = {
    "contract": {"engine", "http", "client", "store", "app"},
    "store": {"engine", "http", "client", "app"},
    "engine": {"http", "client", "app"},
    "http": {"client", "app"},
    "client": {"engine", "http", "store", "app"},
}
#: top-level modules that compose every layer (commands, the demo, the plugin kit)
APPLICATION = {"cli", "cli_money", "demo", "startup", "testing", "_moved"}
#: top-level modules that read the configuration file (they name the store's URL forms)
SETTINGS = {"config"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "app"  # the package's face: it lends embedders reelay.Dispatcher lazily
    top = parts[1]
    if top in ("engine", "http", "client", "store"):
        return top
    if top in APPLICATION:
        return "app"
    if top in SETTINGS:
        return "settings"
    return "contract"


def imports_of(path: Path) -> set[str]:
    """Modules of ``reelay`` that ``path`` imports, at any depth of the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("reelay"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "reelay" or target.startswith("reelay."):
                if node.module is None or target.count(".") == 0:
                    found.update(f"{target}.{alias.name}" for alias in node.names)
                else:
                    found.add(target)
    return {name for name in found if _exists(name)}


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").exists() or (PACKAGE / relative / "__init__.py").exists()


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module):
    layer = layer_of(module)
    wrong = {target for target in GRAPH[module] if layer_of(target) in FORBIDDEN.get(layer, set())}
    assert not wrong, f"{module} ({layer}) imports {sorted(wrong)}"


def test_no_import_circles():
    # Packages' own __init__ re-exporting their modules is not a circle.
    def edges(module):
        return {target for target in GRAPH[module] if not module.startswith(target + ".") and target != module}

    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        seen[module] = 1
        stack.append(module)
        for target in sorted(edges(module)):
            target = target if target in GRAPH else target.rpartition(".")[0]
            if seen.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if target not in seen:
                visit(target)
        stack.pop()
        seen[module] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module)


def test_no_vendor_name_in_core():
    """Core knows no vendor: vendor facts live in the plugins (docstrings and messages too)."""
    words = ("kling", "sora", "veo", "runway", "luma", "seedance", "hailuo")  # "wan" is inside too many words
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(word in line.lower() for word in words)
    ]
    assert not offenders, offenders


#: The most lines a class in core/reelay may span: past it, a class usually holds two jobs.
MAX_CLASS_LINES = 250


def test_no_class_is_longer_than_it_can_be_read_in_one_sitting():
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno} lines)"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno > MAX_CLASS_LINES
    ]
    assert not offenders, f"split these classes by job (at most {MAX_CLASS_LINES} lines each): {offenders}"
