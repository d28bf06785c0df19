"""The crash recovery script (scripts/testing/test_recovery.py) as an operator runs it: it
passes on every backend and prints its RECOVERY lines, and its negative control (the takeover
worker's lease reclaim broken) fails it, saying which domains were never reclaimed, with its
worker subprocesses stopped and its batches deleted even then."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.acceptance.test_validation_scripts import (
    SCRIPTS,
    migrate_sqlite,
    rows_left,
    run,
    sqlite_url,
)
from tests.conftest import BACKENDS, backend_settings

KILLED = re.compile(
    r"RECOVERY worker_killed=(?P<seconds>[\d.]+) s (?P<held>\d+) domains held by the killed "
    r"worker reclaimed after the 3 s lease \(first back in work after (?P<back>[\d.]+) s\), "
    r"(?P<twice>\d+) of them processed twice; 300/300 succeeded$",
    re.MULTILINE,
)
TERMINATED = re.compile(
    r"RECOVERY worker_terminated=(?P<seconds>[\d.]+) s worker exited 0 (?P<exit>[\d.]+) s after "
    r"SIGTERM \(grace 2 s\): (?P<released>\d+) slow domains in flight released with their "
    r"attempt given back, the others finished; the next worker took them over; 120/120 "
    r"succeeded, 1 attempt each$",
    re.MULTILINE,
)
NEVER_RECLAIMED = re.compile(
    r"FAILED \[step: SIGKILL mid-batch: a second worker reclaims the dead worker's domains\]: "
    r"(?P<held>\d+) domains held by the killed worker were never reclaimed "
    r"\(lease 3 s, waited 20 s\)$",
    re.MULTILINE,
)


def assert_children_gone(output: str, expected: int) -> None:
    children = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", output)]
    assert len(children) == expected, output
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
# SQLite here; .ci/validate runs every script on Postgres direct and through PgBouncer as well
# (30 s a run: CI's time is better spent once).
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"])
def test_recovery_passes_and_reports_how_long_recovery_took(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend != "sqlite":
        request.getfixturevalue("postgres_schema")
    settings = backend_settings(backend, tmp_path)
    done = run(
        "test_recovery",
        tmp_path,
        DOMAINBATCH_DATABASE_URL=settings.database_url.get_secret_value(),
        DOMAINBATCH_POOLER_MODE=settings.pooler_mode,
    )
    output = done.stderr
    assert done.returncode == 0, output
    killed = KILLED.search(output)
    assert killed is not None, output
    held, twice = int(killed["held"]), int(killed["twice"])
    # The held domains come back only once their leases expire: 3 s, extended every 1 s (±20%).
    assert 0 < twice <= held and 1.5 <= float(killed["back"]) <= float(killed["seconds"])
    terminated = TERMINATED.search(output)
    assert terminated is not None, output
    assert int(terminated["released"]) > 0 and float(terminated["exit"]) < 2 + 5
    assert_children_gone(output, 4)  # victim, rescuer, stopped, successor
    assert "Traceback" not in output
    assert not (tmp_path / "domainbatch.db").exists()  # created by the script, so removed


def test_recovery_fails_when_the_lease_reclaim_is_broken(tmp_path: Path) -> None:
    migrate_sqlite(tmp_path)  # an existing database: the script must leave it as it was
    done = run(
        "test_recovery",
        tmp_path,
        "--sabotage",
        "reclaim",
        timeout=120,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )
    output = done.stderr
    assert done.returncode == 1, output
    failed = NEVER_RECLAIMED.search(output)
    assert failed is not None, output
    assert int(failed["held"]) > 0
    assert "rescuer runs with the lease reclaim broken (--sabotage reclaim)" in output
    assert "RECOVERY" not in output and "Traceback" not in output  # a reason, not a crash
    assert_children_gone(output, 2)  # the victim and the sabotaged rescuer
    assert rows_left(tmp_path) == dict.fromkeys(rows_left(tmp_path), 0)


def test_recovery_script_is_an_executable() -> None:
    path = SCRIPTS / "test_recovery.py"
    assert os.access(path, os.X_OK)
    assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")
