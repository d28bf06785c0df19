"""Shared fixtures: the three storage backends every integration test runs on, a database of
this run's own, and the loopback-only guard.

- ``sqlite``: a fresh file per test.
- ``postgres``: the local PostgreSQL, in a database named for this run
  (``domainbatch_test_<run>``), created at the start and dropped at the end (also after a
  failure or Ctrl-C), so two runs on one machine never meet.
- ``pgbouncer``: the same database through PgBouncer in transaction mode (pool size 2).

``scripts/test.sh`` (the README's test command) starts a PgBouncer of its own and passes its
URL in ``DOMAINBATCH_TEST_PGBOUNCER_URL``; a bare ``pytest`` expects one on 127.0.0.1:6432.
Postgres and PgBouncer are required: a missing server is an error, never a skip. Set
``DOMAINBATCH_TEST_BACKENDS=sqlite`` to run on SQLite alone, knowingly.

Every Python process of the run may connect only to loopback (``tests/loopback``): this one
from here, the processes it starts through ``sitecustomize`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = REPO / "tests" / "loopback"
sys.path.insert(0, str(LOOPBACK))
import loopback_guard  # noqa: E402 - from the folder just added

loopback_guard.install()
# Children inherit the guard (sitecustomize) and find the repository's packages.
os.environ["PYTHONPATH"] = os.pathsep.join(
    dict.fromkeys([str(LOOPBACK), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
)
RUN = os.environ.setdefault("DOMAINBATCH_TEST_RUN", f"{os.getpid()}_{secrets.token_hex(3)}")
_OWN_LOG = loopback_guard.LOG_VARIABLE not in os.environ  # else scripts/testenv.sh owns it
# The default database lives in the user data folder: a test (or a child it starts) that sets
# no DOMAINBATCH_DATABASE_URL writes into this run's folder, never the real home directory.
DATA_HOME = Path(tempfile.gettempdir()) / f"domainbatch-data-{RUN}"
os.environ["XDG_DATA_HOME"] = str(DATA_HOME)
os.environ.setdefault(
    loopback_guard.LOG_VARIABLE,
    str(Path(tempfile.gettempdir()) / f"domainbatch-loopback-{RUN}.log"),
)

from domainbatch.runtime import Runtime  # noqa: E402 - after the guard
from domainbatch.settings import Settings  # noqa: E402
from tests.support import databases  # noqa: E402

PG_URL = os.environ.get(
    "DOMAINBATCH_TEST_POSTGRES_URL",
    databases.on_server(databases.postgres_server(), f"domainbatch_test_{RUN}"),
)
PGBOUNCER_URL = os.environ.get(
    "DOMAINBATCH_TEST_PGBOUNCER_URL",
    databases.on_server(databases.pgbouncer_server(), databases.name_of(PG_URL)),
)
BACKENDS = [
    b.strip()
    for b in os.environ.get("DOMAINBATCH_TEST_BACKENDS", "sqlite,postgres,pgbouncer").split(",")
]


def run_database(prefix: str) -> str:
    """A database name of this run's own (for tests that need one more database)."""
    return f"{prefix}_{RUN}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A connection off loopback that no test declared is a failure of the run."""
    log = os.environ[loopback_guard.LOG_VARIABLE]
    found = loopback_guard.violations(log)
    if found:
        sys.stderr.write(
            "\nloopback guard: connections off loopback were attempted (and refused):\n  "
            + "\n  ".join(found[:20])
            + "\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if _OWN_LOG and os.path.exists(log):
        os.unlink(log)
    shutil.rmtree(DATA_HOME, ignore_errors=True)


def backend_settings(backend: str, tmp_path: Path, **extra: object) -> Settings:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'domainbatch.db'}"
        return Settings(database_url=url, **extra)  # type: ignore[arg-type]
    if backend == "postgres":
        return Settings(database_url=PG_URL, pooler_mode="direct", **extra)  # type: ignore[arg-type]
    return Settings(database_url=PGBOUNCER_URL, pooler_mode="transaction", **extra)  # type: ignore[arg-type]


def create_database(url: str) -> bool:
    """``databases.create_database``; a server that does not answer fails the run in one line."""
    try:
        return databases.create_database(url)
    except psycopg.OperationalError as exc:
        admin = databases.server_of(url)
        pytest.fail(f"PostgreSQL is required for the tests ({admin}): {exc}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[None]:
    """This run's database, migrated; dropped when the run ends (pytest tears session fixtures
    down after a failure or Ctrl-C too; ``scripts/test.sh`` drops it again if pytest is
    killed)."""
    if not {"postgres", "pgbouncer"} & set(BACKENDS):
        pytest.skip("DOMAINBATCH_TEST_BACKENDS excludes Postgres (chosen knowingly)")
    created = create_database(PG_URL)
    try:
        databases.upgrade_database(PG_URL)
        if "pgbouncer" in BACKENDS:
            try:
                psycopg.connect(PGBOUNCER_URL, prepare_threshold=None).close()
            except psycopg.OperationalError as exc:
                pytest.fail(
                    f"PgBouncer is required ({PGBOUNCER_URL.rsplit('/', 1)[0]}; "
                    f"scripts/test.sh starts one): {exc}",
                    pytrace=False,
                )
        yield
    finally:
        if created:
            databases.drop_database(PG_URL)


def wipe_postgres() -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE batch_domains, batch_counts, webhook_deliveries, batches, api_keys, tenants, "
            "workers"
        )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """The backend name; the test's data is removed afterwards."""
    if request.param != "sqlite":
        request.getfixturevalue("postgres_schema")
    yield request.param
    if request.param != "sqlite":
        wipe_postgres()


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Settings:
    return backend_settings(
        backend,
        tmp_path,
        poll_min_seconds=0.01,
        poll_max_seconds=0.2,
        ack_interval_seconds=0.05,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
        extra_suffixes=["test"],
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    rt = Runtime(settings)
    await rt.prepare()
    try:
        yield rt
    finally:
        await rt.close()
