"""Helpers for driving the real ``domainbatch`` command as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, backend_settings

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(backend: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    settings = backend_settings(backend, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINBATCH_")}
    env.update(
        PYTHONPATH=str(REPO),
        DOMAINBATCH_DATABASE_URL=settings.database_url,
        DOMAINBATCH_POOLER_MODE=settings.pooler_mode,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_RETRY_BASE_SECONDS="0.05",
        DOMAINBATCH_RETRY_MAX_SECONDS="0.2",
        COLUMNS="200",
    )
    env.update(extra)
    return env


@pytest.fixture
def cli(backend: str, tmp_path: Path) -> Cli:
    def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "domainbatch", *args],
            env=cli_env(backend, tmp_path, **env),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
