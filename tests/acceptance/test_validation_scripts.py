"""The validation scripts (scripts/testing) as an operator runs them: subprocesses against a
real database. Each must fail, non-zero and saying why, when its success criterion is broken
(a database that refuses, a schema that was never migrated, a bad setting, a processor that
raises), clean up after itself even then, and the runner must write its report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import (
    BACKENDS,
    PG_URL,
    PGBOUNCER_URL,
    REPO,
    backend_settings,
    run_database,
)
from tests.support import databases
from tests.support.processes import child_env, run_domainbatch

SCRIPTS = REPO / "scripts" / "testing"
REFUSING = "postgresql://postgres@127.0.0.1:1/nothing"
EXPLODING = "tests.support.processors:exploding"
ORDER = ["test_db_connection", "test_batch_create", "test_batch_process", "monitor_test"]
ORDER += ["test_batch_e2e", "test_recovery", "test_db_outage"]


def run(
    script: str, tmp_path: Path, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / f"{script}.py"), *args],
        env=child_env(clean=True, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'scripts.db'}"


def migrate_sqlite(tmp_path: Path) -> None:
    done = run_domainbatch(
        "db", "upgrade", env=child_env(DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path)), timeout=60
    )
    assert done.returncode == 0, done.stderr


def rows_left(tmp_path: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(tmp_path / "scripts.db") as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("batches", "batch_domains", "batch_counts", "webhook_deliveries")
        }


@pytest.mark.parametrize("script", ORDER)
def test_each_script_fails_on_a_database_that_refuses(script: str, tmp_path: Path) -> None:
    done = run(script, tmp_path, DOMAINBATCH_DATABASE_URL=REFUSING)
    output = done.stderr
    assert done.returncode == 1, output
    assert "Connection refused" in output and "FAILED" in output
    assert "Traceback" not in output  # a reason, not a crash
    assert f"FAILED {script} in" in output.splitlines()[-1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_db_connection_passes_and_reports_the_server(
    backend: str, tmp_path: Path, postgres_schema: None
) -> None:
    settings = backend_settings(backend, tmp_path)
    done = run(
        "test_db_connection",
        tmp_path,
        DOMAINBATCH_DATABASE_URL=settings.database_url.get_secret_value(),
        DOMAINBATCH_POOLER_MODE=settings.pooler_mode,
    )
    assert done.returncode == 0, done.stderr
    expected = "SQLite" if backend == "sqlite" else "PostgreSQL"
    assert f"FACT server_version={expected}" in done.stderr
    mode = {"sqlite": "direct", "postgres": "direct", "pgbouncer": "transaction"}[backend]
    assert f"FACT pooler_mode={mode}" in done.stderr
    if backend == "pgbouncer":
        assert "FACT pooler_version=PgBouncer 1." in done.stderr
        assert "ok   no session state on the server connections" in done.stderr
    if backend == "postgres":
        assert "ok   pg_stat_activity after the pool is closed" in done.stderr
    # The SQLite file did not exist before the run: the script removed what it created.
    assert not (tmp_path / "domainbatch.db").exists()


@pytest.mark.skipif("pgbouncer" not in BACKENDS, reason="PgBouncer backend disabled")
def test_run_all_detects_pgbouncer_and_reports_its_compliance(
    tmp_path: Path, postgres_schema: None
) -> None:
    """POOLER_MODE=auto (the default) on PgBouncer's own port: the processes run in transaction
    mode, and the report shows the detection and every session-state check with its count."""
    reports = tmp_path / "reports"
    done = run(
        "run_all",
        tmp_path,
        "--quiet",
        "--only",
        "test_db_connection",
        "--reports-dir",
        str(reports),
        DOMAINBATCH_DATABASE_URL=PGBOUNCER_URL,
    )
    assert done.returncode == 0, done.stderr
    (report_json,) = reports.glob("test-results-*.json")
    report = json.loads(report_json.read_text())
    env = report["environment"]
    assert env["settings"]["pooler_mode"] == "auto"
    assert env["pooler_mode"] == "transaction" and env["pooler_version"].startswith("PgBouncer 1.")
    table = report["pooler_compliance"]
    assert table["verdict"].startswith("compliant")
    assert len(table["checks"]) == 7 and {c["found"] for c in table["checks"]} == {0}
    assert all(c["connections"] >= 1 for c in table["checks"])
    markdown = report_json.with_suffix(".md").read_text()
    assert "| pooler mode | transaction (detected: POOLER_MODE=auto) |" in markdown
    assert "| server-side prepared statements | 0 | 2 |" in markdown


@pytest.mark.skipif("pgbouncer" not in BACKENDS, reason="PgBouncer backend disabled")
def test_db_connection_fails_when_pgbouncer_is_run_as_direct(
    tmp_path: Path, postgres_schema: None
) -> None:
    done = run(
        "test_db_connection",
        tmp_path,
        DOMAINBATCH_DATABASE_URL=PGBOUNCER_URL,
        DOMAINBATCH_POOLER_MODE="direct",
    )
    assert done.returncode == 1, done.stderr
    assert "a pooler in front is run in a pooler mode: PgBouncer 1." in done.stderr
    assert "but this process runs in mode direct" in done.stderr


def test_db_connection_fails_on_a_database_without_the_schema(
    tmp_path: Path, postgres_schema: None
) -> None:
    url = databases.on_server(databases.server_of(PG_URL), run_database("domainbatch_unmigrated"))
    databases.reset_database(url)
    try:
        done = run("test_db_connection", tmp_path, DOMAINBATCH_DATABASE_URL=url)
    finally:
        databases.drop_database(url)
    assert done.returncode == 1, done.stderr
    assert (
        "database schema: the database has no domainbatch schema, "
        "this domainbatch needs revision " in done.stderr
    )
    assert "run `domainbatch db upgrade`" in done.stderr


def test_a_bad_setting_is_reported(tmp_path: Path) -> None:
    done = run(
        "test_batch_create",
        tmp_path,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
        DOMAINBATCH_CONCURRENCY="0",
    )
    assert done.returncode == 1, done.stderr
    assert "FAILED: invalid setting concurrency" in done.stderr


def test_process_fails_when_the_processor_raises_and_cleans_up(tmp_path: Path) -> None:
    migrate_sqlite(tmp_path)  # an existing database: the script must leave it as it was
    done = run(
        "test_batch_process",
        tmp_path,
        "--processor",
        EXPLODING,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )
    assert done.returncode == 1, done.stderr
    assert (
        "FAILED [step: a single domain]: plain.test: outcome: expected succeeded/None, got "
        "failed/internal (RuntimeError: exploding test processor refuses plain.test)"
    ) in done.stderr
    assert "cleanup: deleted batch" in done.stderr
    assert (tmp_path / "scripts.db").exists()
    assert rows_left(tmp_path) == dict.fromkeys(rows_left(tmp_path), 0)


def test_monitor_fails_when_the_processor_raises(tmp_path: Path) -> None:
    done = run(
        "monitor_test",
        tmp_path,
        "--processor",
        EXPLODING,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )
    assert done.returncode == 1, done.stderr
    assert "FAILED [step: batches in progress, observed until they end]" in done.stderr
    assert "processing logged no error" in done.stderr and "exploding test processor" in done.stderr
    assert not (tmp_path / "scripts.db").exists()  # it created the file, so it removed it


def test_e2e_fails_when_the_processor_raises_and_stops_its_processes(tmp_path: Path) -> None:
    migrate_sqlite(tmp_path)
    done = run(
        "test_batch_e2e",
        tmp_path,
        "--processor",
        EXPLODING,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )
    assert done.returncode == 1, done.stderr
    assert "FAILED [step: mixed batch: final status and every domain's outcome]" in done.stderr
    assert "got failed/internal (RuntimeError: exploding test processor" in done.stderr
    assert rows_left(tmp_path) == dict.fromkeys(rows_left(tmp_path), 0)
    children = [int(pid) for pid in re.findall(r"started [\w-]+ \(pid (\d+)\)", done.stderr)]
    assert len(children) == 2  # the server and the first worker; none is left running
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_run_all_stops_at_the_first_failure_and_reports_it(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run(
        "run_all", tmp_path, "--reports-dir", str(reports), DOMAINBATCH_DATABASE_URL=REFUSING
    )
    assert done.returncode == 1, done.stderr
    (report_json,) = reports.glob("test-results-*.json")
    report = json.loads(report_json.read_text())
    assert report["status"] == "failed"
    statuses = [(s["name"], s["status"], s["exit_code"]) for s in report["scripts"]]
    assert statuses[0] == ("test_db_connection", "failed", 1)
    assert {s for _, s, _ in statuses[1:]} == {"not run"} and len(statuses) == len(ORDER)
    first = report["scripts"][0]
    assert "Connection refused" in first["failure"] and "Connection refused" in first["log"]
    assert any("DOMAINBATCH_DATABASE_URL" in r for r in report["recommendations"])
    markdown = report_json.with_suffix(".md").read_text()
    assert "**FAILED**: 0 passed, 1 failed, 6 not run" in markdown
    assert "## Logs of the failures" in markdown and "Connection refused" in markdown
    # The failure's ERROR lines are in the warnings and errors, with the script's name.
    problems = report["warnings_and_errors"]
    assert {p["script"] for p in problems} == {"test_db_connection"}
    assert any("FAILED [step:" in p["text"] and p["level"] == "ERROR" for p in problems)


@pytest.mark.slow
def test_run_all_passes_on_sqlite_and_writes_the_report(tmp_path: Path) -> None:
    """A passing run's report, from four of the scripts (23 s of the whole run's 85 s): every
    script passing on every backend is `.ci/validate`'s job."""
    reports = tmp_path / "reports"
    done = run(
        "run_all",
        tmp_path,
        "--quiet",
        "--only",
        "test_db_connection,test_batch_create,monitor_test,test_db_outage",
        "--reports-dir",
        str(reports),
        timeout=600,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    (report_json,) = reports.glob("test-results-*.json")
    (report_md,) = reports.glob("test-results-*.md")
    assert report_md.stem == report_json.stem
    report = json.loads(report_json.read_text())
    assert report["status"] == "passed"
    assert [(s["name"], s["status"], s["exit_code"]) for s in report["scripts"]] == [
        ("test_db_connection", "passed", 0),
        ("test_batch_create", "passed", 0),
        ("monitor_test", "passed", 0),
        ("test_db_outage", "passed", 0),
    ]
    assert all(s["duration_seconds"] > 0 and s["log"] is None for s in report["scripts"])
    env = report["environment"]
    assert env["database"] == "sqlite" and env["server_version"].startswith("SQLite 3.")
    assert env["python"].endswith(sys.version.split()[0]) and env["pooler_mode"] == "direct"
    # Adaptive by default (no number), within the reported bounds.
    assert env["settings"]["concurrency"] is None
    assert (env["settings"]["min_concurrency"], env["settings"]["max_concurrency"]) == (16, 1000)
    perf = report["performance"]
    for name in ("monitor_status_latency_ms_p50", "create_entries_per_second"):
        assert perf[name]["value"] > 0, name
    assert perf["create_entries_per_second"]["unit"] == "entries/s"
    assert report["recommendations"][0] == "Every check passed."
    assert report["started_at"] <= report["finished_at"]
    markdown = report_md.read_text()
    assert "**PASSED**: 4 passed, 0 failed, 0 not run" in markdown
    assert "| 3 | `monitor_test` | passed | 0 |" in markdown
    assert {r["what"] for r in report["recovery"]} == {"database_outage"}
    assert "| database outage | " in markdown
    assert "Not applicable (SQLite: no server sessions" in markdown
    assert "| server version | SQLite 3." in markdown
    assert "| status read latency (library), p50 | " in markdown
    assert "## Logs of the failures" not in markdown
    # Every script created the SQLite file it found missing, and removed it.
    assert not (tmp_path / "scripts.db").exists()


def test_scripts_are_executables_and_run_all_prints_its_json_report(tmp_path: Path) -> None:
    """`./scripts/testing/run_all.py --json` as a scheduler runs it: no `python` in front, the
    report on stdout for a monitor to parse."""
    for name in [*ORDER, "run_all"]:
        path = SCRIPTS / f"{name}.py"
        assert os.access(path, os.X_OK), path
        assert path.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n"), path
    # `env python3` finds this interpreter, as it would in the operator's activated venv.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    argv = [
        str(SCRIPTS / "run_all.py"),
        "--only",
        "test_db_connection",
        "--json",
        "--quiet",
        "--reports-dir",
        str(tmp_path / "reports"),
    ]
    done = subprocess.run(
        argv,
        env=child_env(clean=True, PATH=path, DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "passed"
    assert [(s["name"], s["status"]) for s in report["scripts"]] == [
        ("test_db_connection", "passed")
    ]


def test_a_negative_control_whose_script_does_not_run_is_refused(tmp_path: Path) -> None:
    """`--sabotage leak` without `--soak` (or a control outside `--only`) would leave a passing
    report that proved nothing: refused before anything runs."""
    reports = tmp_path / "reports"
    for extra in (
        ["--sabotage", "leak"],
        ["--only", "test_db_connection", "--sabotage", "reclaim"],
    ):
        url = sqlite_url(tmp_path)
        done = run(
            "run_all", tmp_path, "--reports-dir", str(reports), *extra, DOMAINBATCH_DATABASE_URL=url
        )
        assert done.returncode == 2, done.stderr
        assert "that script is not in this run" in done.stderr
    assert not reports.exists()
