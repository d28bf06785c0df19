"""The layering stays true: imports between domainbatch's packages only point down.

entry points (cli, api) -> composition root (runtime) -> service -> engine (worker, runner,
webhook delivery, processors) -> adapters (storage, fetching) -> pure core (core, extract,
errors, settings). A package may import its own layer's or lower ones; entry points
never reach storage (they go through the service), and the pure core imports no database, HTTP
or web framework.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "domainbatch"

LAYERS: list[set[str]] = [
    {"__main__", "cli", "api"},
    {"runtime"},
    {"service"},
    {"engine", "processors"},
    {"storage", "fetching"},
    {"core", "extract", "errors", "settings", "__init__"},
]
FORBIDDEN = {
    ("cli", "storage"),
    ("api", "storage"),
    ("api", "cli"),  # the dashboard shares helpers with the CLI through the core, not the CLI
}
PURE = {"core", "extract"}
THIRD_PARTY_IN_PURE = {"sqlalchemy", "psycopg", "aiosqlite", "aiohttp", "fastapi", "starlette"}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"package {package!r} has no layer: add it to LAYERS")


def _imports() -> list[tuple[str, str, str]]:
    """(importing file, importing package, imported module) for every import in src."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent)
        module = ".".join(relative.with_suffix("").parts)
        package = _package(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(relative), package, node.module))
            elif isinstance(node, ast.Import):
                found += [(str(relative), package, alias.name) for alias in node.names]
    return found


IMPORTS = _imports()


def test_every_package_has_a_layer() -> None:
    packages = {p.stem if p.is_file() else p.name for p in SRC.iterdir() if p.name != "py.typed"}
    packages -= {"__pycache__"}
    for package in packages:
        _layer(package)


@pytest.mark.parametrize("where", sorted({file for file, _, _ in IMPORTS}))
def test_imports_point_down(where: str) -> None:
    for file, package, target in IMPORTS:
        if file != where:
            continue
        if target.startswith("domainbatch"):
            imported = _package(target)
            if imported == package:
                continue
            assert (package, imported) not in FORBIDDEN, f"{file} imports {target}"
            assert _layer(imported) >= _layer(package), f"{file} imports {target} (upward)"
        elif package in PURE:
            assert target.split(".")[0] not in THIRD_PARTY_IN_PURE, f"{file} imports {target}"


def test_the_rules_catch_a_violation() -> None:
    """The check itself can fail: storage importing the service is upward."""
    assert _layer("storage") > _layer("service")
    assert ("api", "storage") in FORBIDDEN
