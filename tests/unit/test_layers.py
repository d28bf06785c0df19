"""The import contracts hold: ``lint-imports`` with pyproject.toml's ``[tool.importlinter]`` (the
layers of ARCHITECTURE.md: entry points -> runtime -> service -> engine -> adapters -> pure core;
entry points never import storage themselves; the API never imports the CLI; the pure core
imports no database, HTTP or web framework). And they can fail: a copy of the package with one
bad import breaks exactly the contract that forbids it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"
CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
}
LINT = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``domainbatch`` under ``root/src``, with ``root``'s pyproject."""
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache", "--no-logo"],
        cwd=root,  # where it reads pyproject.toml
        env={**os.environ, "PYTHONPATH": str(root / "src")},  # this package, no installed one
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("storage/__init__.py", "import domainbatch.service", "layers"),
        ("fetching/__init__.py", "import domainbatch.storage", "layers"),  # independent siblings
        ("unlayered.py", "", "layers"),  # exhaustive: every top-level module has a layer
        ("cli/main.py", "import domainbatch.storage.tables", "entry-points-not-storage"),
        ("api/__init__.py", "import domainbatch.cli", "api-not-cli"),
        ("extract/__init__.py", "import aiohttp", "pure-core"),
    ],
)
def test_a_bad_import_breaks_its_contract(
    tmp_path: Path, module: str, bad_import: str, broken: str
) -> None:
    shutil.copytree(
        REPO / "src" / "domainbatch",
        tmp_path / "src" / "domainbatch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    path = tmp_path / "src" / "domainbatch" / module
    path.write_text((path.read_text() if path.exists() else "") + f"\n{bad_import}\n")
    done = lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    kept = {name for name in CONTRACTS.values() if f"{name} KEPT" in done.stdout}
    assert kept == set(CONTRACTS.values()) - {CONTRACTS[broken]}, done.stdout
    assert f"{CONTRACTS[broken]} BROKEN" in done.stdout, done.stdout
