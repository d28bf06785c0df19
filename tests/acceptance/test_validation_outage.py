"""scripts/testing/test_db_outage.py as an operator runs it: a subprocess whose worker loses the
database mid-batch (a proxy cut on Postgres and through PgBouncer, the write lock held on
SQLite) and must ride it out; with ``--never-restore`` the script must fail in bounded time,
saying why, and still clean up through its own direct link."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import psycopg
import pytest

from tests.acceptance.test_validation_scripts import (
    REFUSING,
    migrate_sqlite,
    rows_left,
    run,
    sqlite_url,
)
from tests.conftest import BACKENDS, PG_URL, backend_settings

SCRIPT = "test_db_outage"
DEADLINE = 10  # seconds: the negative control waits this long after the outage began
NEVER_RETURNS = re.compile(
    r"FAILED \[step: the batch ends\]: the database stayed unreachable: the batch did not end "
    rf"within {DEADLINE} s of the outage \((\d+) domains still open\)$"
)


def script_env(backend: str, tmp_path: Path) -> dict[str, str]:
    settings = backend_settings(backend, tmp_path)
    return {
        "DOMAINBATCH_DATABASE_URL": settings.database_url.get_secret_value(),
        "DOMAINBATCH_POOLER_MODE": settings.pooler_mode,
    }


def variant(backend: str) -> str:
    mode = "transaction" if backend == "pgbouncer" else "direct"
    return "SQLite write lock" if backend == "sqlite" else f"Postgres link cut (pooler mode {mode})"


def assert_children_gone(output: str) -> None:
    children = [int(pid) for pid in re.findall(r"started worker \(pid (\d+)\)", output)]
    assert len(children) == 1, output
    with pytest.raises(ProcessLookupError):
        os.kill(children[0], 0)


def test_outage_script_fails_on_a_database_that_refuses(tmp_path: Path) -> None:
    done = run(SCRIPT, tmp_path, DOMAINBATCH_DATABASE_URL=REFUSING)
    assert done.returncode == 1, done.stderr
    assert "Connection refused" in done.stderr and "Traceback" not in done.stderr
    assert f"FAILED {SCRIPT} in" in done.stderr.splitlines()[-1]


# SQLite here; .ci/validate runs the script on Postgres direct and through PgBouncer as well
# (15 s a run: CI's time is better spent once).
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"])
def test_outage_script_passes_and_reports_the_recovery(backend: str, tmp_path: Path) -> None:
    done = run(SCRIPT, tmp_path, timeout=120, **script_env(backend, tmp_path))
    output = done.stderr
    assert done.returncode == 0, output
    assert f"validate: variant: {variant(backend)}: " in output
    (line,) = [line for line in output.splitlines() if "RECOVERY database_outage=" in line]
    found = re.search(
        r"RECOVERY database_outage=\d+\.\d\d s "
        + re.escape(variant(backend))
        + r" for 6 s \(lease 3 s\); batch completed \d+\.\d\d s after the restore; "
        r"(\d+) domains held, (\d+) re-run; 200/200 succeeded$",
        line,
    )
    assert found, line
    held, re_run = int(found.group(1)), int(found.group(2))
    assert held >= 1 and re_run <= held, line
    lost = "lost the database in its" in output
    back = "the database is back after a" in output
    # Postgres' worker logs the loss and the return; SQLite's waits on the lock, no error.
    assert lost == back == (backend != "sqlite"), output
    assert "Traceback" not in output
    assert_children_gone(output)
    assert "cleanup: deleted batch" in output
    assert not (tmp_path / "domainbatch.db").exists()  # the script created it, so removed it


NEGATIVE = [b for b in ("sqlite", "postgres") if b in BACKENDS]


@pytest.mark.parametrize("backend", NEGATIVE, indirect=True)
def test_outage_script_fails_when_the_database_never_returns(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        migrate_sqlite(tmp_path)  # an existing database: the script must leave it as it was
        env = {"DOMAINBATCH_DATABASE_URL": sqlite_url(tmp_path)}
    else:
        env = script_env(backend, tmp_path)
    started = time.monotonic()
    done = run(SCRIPT, tmp_path, "--never-restore", "--deadline", str(DEADLINE), timeout=90, **env)
    elapsed = time.monotonic() - started
    output = done.stderr
    assert done.returncode == 1, output
    reasons = [m for line in output.splitlines() if (m := NEVER_RETURNS.search(line))]
    assert len(reasons) == 1 and int(reasons[0].group(1)) > 0, output
    assert "--never-restore: the database stays unreachable for the worker" in output
    assert f"FAILED {SCRIPT} in" in output.splitlines()[-1]
    assert "Traceback" not in output
    # Up to 60 s to reach mid-batch, then the deadline; a hang would be cut by run()'s timeout.
    assert elapsed < 60 + DEADLINE, elapsed
    assert_children_gone(output)
    assert "cleanup: deleted batch" in output
    if backend == "sqlite":
        assert rows_left(tmp_path) == dict.fromkeys(rows_left(tmp_path), 0)
    else:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            assert conn.execute("select count(*) from batch_domains").fetchone() == (0,)
