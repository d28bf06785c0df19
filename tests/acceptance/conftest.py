"""Helpers for driving the real ``domainbatch`` command as a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, backend_settings, child_pythonpath, wipe_postgres
from tests.support.apiserver import ApiServer, issue_key, server_env

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(backend: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    settings = backend_settings(backend, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINBATCH_")}
    env.update(
        PYTHONPATH=child_pythonpath(),
        DOMAINBATCH_DATABASE_URL=settings.database_url.get_secret_value(),
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


# The API server: one real `domainbatch serve` process per backend per test module --------------
API_BACKENDS = [b for b in BACKENDS if b in ("sqlite", "pgbouncer")]


@pytest.fixture(scope="module", params=API_BACKENDS)
def api_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param != "sqlite":
        request.getfixturevalue("postgres_schema")
    yield request.param
    if request.param != "sqlite":
        wipe_postgres()


@pytest.fixture(scope="module")
def api_workdir(api_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(f"api-{api_backend}")


@contextlib.contextmanager
def keyed_server(backend: str, workdir: Path, **env: str) -> Iterator[ApiServer]:
    """A started ``domainbatch serve`` (embedded worker) whose ``key`` is tenant "alpha"'s."""
    server = ApiServer(server_env(backend, workdir, **env), workdir)
    try:
        server.start()
        server.key = issue_key(backend_settings(backend, workdir), "alpha")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def api(api_backend: str, api_workdir: Path) -> Iterator[ApiServer]:
    """An authenticated server with an embedded worker; ``api.key`` is tenant "alpha"'s key."""
    with keyed_server(api_backend, api_workdir, DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES="true") as s:
        yield s


@pytest.fixture
def tenant_key(api_backend: str, api_workdir: Path) -> Callable[[str], str]:
    """Issue a key for a (new or existing) tenant of the module's server."""
    settings = backend_settings(api_backend, api_workdir)
    return lambda name: issue_key(settings, name)
