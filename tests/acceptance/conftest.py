"""Helpers for driving the real ``domainbatch`` command as a subprocess."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, backend_settings, wipe_postgres
from tests.support.apiserver import SCRIPTED, ApiServer, issue_key
from tests.support.processes import child_env, run_domainbatch

Cli = Callable[..., subprocess.CompletedProcess[str]]


def backend_env(backend: str, workdir: Path, **extra: str) -> dict[str, str]:
    """A child's environment aimed at ``backend`` and nothing else (no ``DOMAINBATCH_*`` of the
    shell), with quick polling and retries."""
    settings = backend_settings(backend, workdir)
    env = child_env(
        clean=True,
        DOMAINBATCH_DATABASE_URL=settings.database_url.get_secret_value(),
        DOMAINBATCH_POOLER_MODE=settings.pooler_mode,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_RETRY_BASE_SECONDS="0.05",
        DOMAINBATCH_RETRY_MAX_SECONDS="0.2",
        # One worker process per command, as the tests count (claims, pids, log lines);
        # tests/acceptance/test_worker_processes.py runs several.
        DOMAINBATCH_WORKER_PROCESSES="1",
    )
    env.update(extra)
    return env


def cli_env(backend: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return backend_env(backend, tmp_path, **{"COLUMNS": "200", **extra})


def server_env(backend: str, workdir: Path, **extra: str) -> dict[str, str]:
    """A ``domainbatch serve`` running the scripted test processor by default (outcomes depend
    only on domain names), with short intervals so tests stay quick."""
    quick = {
        "DOMAINBATCH_DEFAULT_PROCESSOR": SCRIPTED,
        "DOMAINBATCH_POLL_MIN_SECONDS": "0.01",
        "DOMAINBATCH_ACK_INTERVAL_SECONDS": "0.05",
        "DOMAINBATCH_EVENTS_INTERVAL_SECONDS": "0.2",
        "DOMAINBATCH_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "DOMAINBATCH_WEBHOOK_RETRY_MAX_SECONDS": "0.5",
        "DOMAINBATCH_MAX_ENTRIES": "2000",
        "DOMAINBATCH_MAX_REQUEST_BYTES": "200000",
        "DOMAINBATCH_SHUTDOWN_GRACE_SECONDS": "2",
    }
    return backend_env(backend, workdir, **{**quick, **extra})


def stored_batch_ids(cli: Cli) -> list[str]:
    """The batches ``list`` shows, newest first; none when the command found no database at
    all (a refused first command creates none: nothing stored either way)."""
    result = cli("list", "--json", "--limit", "1000")
    if result.returncode == 1 and result.stderr.rstrip().endswith("[no_database]"):
        return []
    assert result.returncode == 0, result.stderr
    return [batch["id"] for batch in json.loads(result.stdout)]


@pytest.fixture
def cli(backend: str, tmp_path: Path) -> Cli:
    def run(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return run_domainbatch(
            *args, env=cli_env(backend, tmp_path, **env), cwd=tmp_path, timeout=timeout
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
