"""Where output leaves and where the database goes away, through the real entry points: CSV
exports a spreadsheet opens safely (CLI and API), and a worker that rides out a database outage
with two log lines instead of a traceback per retry."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.acceptance.conftest import Cli, cli_env, keyed_server
from tests.conftest import BACKENDS, PG_URL, PGBOUNCER_URL, wipe_postgres
from tests.support import hostile
from tests.support.apiserver import ApiServer
from tests.support.processes import Process, domainbatch_argv, run_domainbatch
from tests.support.tcpproxy import TcpProxy

HOSTILE = "tests.support.hostile:titles"
SCRIPTED = "tests.support.processors:scripted"
TRIGGERS = set("=+-@\t\r")
FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "=cmd|' /C calc'!A0",
]


# CSV exports ---------------------------------------------------------------------------------
def assert_csv_is_inert(text: str) -> list[dict[str, str]]:
    """Every cell is safe to open in a spreadsheet; returns the rows by column name."""
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table and table[0][0] == "domain"
    for row in table[1:]:
        for cell in row:
            assert cell.lstrip()[:1] not in TRIGGERS, f"formula cell {cell!r} in {row}"
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    by_input = {r["input"]: r for r in rows}
    for formula in FORMULAS:
        assert by_input["'" + formula]["status"] == "invalid"
    good, bad = by_input["good.test"], by_input["fail-bad.test"]
    assert good["title"] == "'" + hostile.TITLE and good["status_code"] == "200"
    assert good["emails"] == f"'{hostile.TITLE}; {hostile.EMAIL}"  # a multi-value cell
    assert good["result"] == ""  # its fields have columns; JSONL keeps the raw record
    assert bad["error_message"] == "'" + hostile.ERROR
    return rows


def assert_jsonl_is_raw(text: str) -> None:
    """JSONL is for programs: the values exactly as stored, nothing prefixed."""
    lines = [json.loads(line) for line in text.splitlines()]
    by_input = {x["input"]: x for x in lines}
    assert set(FORMULAS) <= set(by_input)
    assert by_input["good.test"]["result"]["extracted"]["title"] == hostile.TITLE
    assert by_input["fail-bad.test"]["error_message"] == hostile.ERROR
    for item in lines:
        for value in (*item.values(), (item["result"] or {}).get("extracted", {}).get("title")):
            assert not (isinstance(value, str) and value.startswith("'")), item
    for line in text.splitlines():  # compact orjson text, one object a line
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_cli_csv_export_neutralizes_formulas(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "hostile.txt"
    source.write_text("\n".join([*FORMULAS, "good.test", "fail-bad.test"]) + "\n")
    out_csv = tmp_path / "out.csv"
    done = cli("run", str(source), "-p", HOSTILE, "--output", str(out_csv), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {k: v for k, v in status["counts"].items() if v} == {
        "invalid": 5,
        "succeeded": 1,
        "failed": 1,
    }
    rows = assert_csv_is_inert(out_csv.read_text(encoding="utf-8"))
    assert len(rows) == 7
    exported = cli("results", status["id"], "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == out_csv.read_text(encoding="utf-8")
    as_jsonl = cli("results", status["id"])
    assert as_jsonl.returncode == 0, as_jsonl.stderr
    assert_jsonl_is_raw(as_jsonl.stdout)


@pytest.fixture
def hostile_api(api_backend: str, api_workdir: Path) -> Iterator[ApiServer]:
    """A server whose default processor is the hostile one (a tenant may not name a module).
    Stopped after its test: its embedded worker would take the outage test's batch."""
    with keyed_server(api_backend, api_workdir, DOMAINBATCH_DEFAULT_PROCESSOR=HOSTILE) as server:
        yield server


def test_api_csv_export_neutralizes_formulas(hostile_api: ApiServer) -> None:
    api = hostile_api
    created = api.create([*FORMULAS, "good.test", "fail-bad.test"])
    assert api.wait(created["id"])["status"] == "completed"
    url = f"/v1/batches/{created['id']}/results"
    as_csv = api.get(url, params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert len(assert_csv_is_inert(as_csv.text)) == 7
    negotiated = api.get(url, headers={"Accept": "text/csv"})
    assert negotiated.text == as_csv.text
    as_jsonl = api.get(url)
    assert as_jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert_jsonl_is_raw(as_jsonl.text)


# Outages -------------------------------------------------------------------------------------
LOST = "lost the database"
BACK = "database is back"


def _pg(query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return conn.execute(query, args).fetchall()


def _done(batch_id: str) -> int:
    rows = _pg(
        "select coalesce(sum(n), 0) from batch_counts where batch_id = %s"
        " and status not in ('pending', 'processing')",
        batch_id,
    )
    return int(rows[0][0])


@pytest.fixture
def postgres_only(postgres_schema: None) -> Any:
    if "postgres" not in BACKENDS:
        pytest.skip("needs PostgreSQL (DOMAINBATCH_TEST_BACKENDS excludes it)")
    yield
    wipe_postgres()


@pytest.mark.parametrize(
    ("through", "url", "pooler_mode"),
    [("postgres", PG_URL, "direct"), ("pgbouncer", PGBOUNCER_URL, "transaction")],
    ids=["postgres", "pgbouncer"],
)
def test_worker_rides_out_a_database_outage(
    postgres_only: None, tmp_path: Path, through: str, url: str, pooler_mode: str
) -> None:
    """The worker reaches the database through a proxy the test cuts for 4 s (every link reset,
    new ones refused) and restores, in the middle of a batch."""
    if through not in BACKENDS:
        pytest.skip(f"needs {through} (DOMAINBATCH_TEST_BACKENDS excludes it)")
    n = 60
    source = tmp_path / "domains.txt"
    source.write_text("".join(f"d{i}.test\n" for i in range(n)))
    # The slow processor takes 0.2 s a domain; the lease (10 s, below) outlives the 4 s outage,
    # so nothing the worker holds may be reclaimed and processed twice.
    submit = ["submit", str(source), "-p", SCRIPTED, "-o", "delay=0.2"]
    submitted = run_domainbatch(*submit, env=cli_env("postgres", tmp_path), cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.strip()
    processed = tmp_path / "processed.log"
    target = psycopg.conninfo.conninfo_to_dict(url)
    with TcpProxy(str(target["host"]), int(target["port"])) as proxy:
        env = cli_env(
            "postgres",
            tmp_path,
            DOMAINBATCH_DATABASE_URL=url.replace(f":{target['port']}/", f":{proxy.port}/"),
            DOMAINBATCH_POOLER_MODE=pooler_mode,
            DOMAINBATCH_LEASE_SECONDS="10",
            DOMAINBATCH_POLL_MIN_SECONDS="0.05",
            DOMAINBATCH_POLL_MAX_SECONDS="0.5",
            DOMAINBATCH_ACK_INTERVAL_SECONDS="0.1",
            DOMAINBATCH_TEST_PROCESSED_LOG=str(processed),
        )
        # Its output goes to a file (Process): a pipe nobody reads while the test waits would
        # fill up and block the worker (a traceback-per-retry worker fills 64 KiB in a fraction
        # of a second).
        worker = Process(
            domainbatch_argv("worker", "--burst", "--concurrency", "4"),
            env=env,
            cwd=tmp_path,
            log=tmp_path / "worker.log",
        )
        with worker:
            deadline = time.monotonic() + 30
            while _done(batch_id) < 8:
                assert time.monotonic() < deadline and worker.running()
                time.sleep(0.05)
            proxy.cut()
            time.sleep(4)
            assert worker.running(), "the worker gave up during the outage"
            proxy.restore()
            assert worker.proc is not None
            worker.proc.wait(60)
    errs = worker.output()
    assert worker.returncode == 0, errs
    status = _pg("select status from batches where id = %s", batch_id)[0][0]
    assert status == "completed", errs
    counted = dict(
        _pg(
            "select status, sum(n)::int from batch_counts where batch_id = %s group by status",
            batch_id,
        )
    )
    rows = dict(
        _pg(
            "select status, count(*)::int from batch_domains where batch_id = %s group by status",
            batch_id,
        )
    )
    assert {k: v for k, v in counted.items() if v} == rows == {"succeeded": n}
    seen = Counter(line.split()[1] for line in processed.read_text().splitlines())
    assert set(seen) == {f"d{i}.test" for i in range(n)} and set(seen.values()) == {1}
    lines = errs.splitlines()
    assert "Traceback" not in errs, f"{len(lines)} lines; they begin:\n{errs[:3000]}"
    lost = [line for line in lines if LOST in line]
    back = [line for line in lines if BACK in line]
    assert len(lost) == 1 and len(back) == 1, errs
    assert "failed retries" in back[0], back


# SQLite migrations on a full disk ------------------------------------------------------------
def _schema(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("select name from sqlite_master order by name")]


@contextlib.contextmanager
def small_disk(where: Path, size: str = "512k") -> Iterator[Path]:
    """A real filesystem of ``size`` (a tmpfs; the tests run as root), unmounted afterwards."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.fail(
            f"this test mounts a small tmpfs to fill (needs root): {mounted.stderr.strip()}",
            pytrace=False,
        )
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_sqlite_database_first_created_on_a_full_disk(tmp_path: Path) -> None:
    """The schema is created in one transaction: a full disk leaves nothing half-made, the error
    is one line, and once space is freed the same command works."""
    with small_disk(tmp_path / "disk") as disk:
        # 48 KiB free: room for the first few tables, not for the whole schema (the old
        # statement-by-statement migration stopped at an index, leaving three tables behind).
        filler = disk / "filler"
        filler.write_bytes(bytes(shutil.disk_usage(disk).free - 48 * 1024))
        database = disk / "domainbatch.db"
        env = cli_env("sqlite", tmp_path, DOMAINBATCH_DATABASE_URL=f"sqlite:///{database}")
        domains = tmp_path / "domains.txt"  # off the small disk
        domains.write_text("example.com\n", encoding="utf-8")
        # `submit` creates the database (`list` never does).
        full = run_domainbatch("submit", str(domains), "-p", "noop", env=env, cwd=tmp_path)
        assert full.returncode != 0, full.stdout
        assert full.stderr.strip().splitlines() == [
            "error: migration failed: database or disk is full [storage]"
        ], full.stderr
        assert _schema(database) == []  # no table, no alembic_version
        filler.unlink()
        freed = run_domainbatch("submit", str(domains), "-p", "noop", env=env, cwd=tmp_path)
        assert freed.returncode == 0, freed.stderr
        listed = run_domainbatch("list", "--json", env=env, cwd=tmp_path)
        assert [b["id"] for b in json.loads(listed.stdout)] == [freed.stdout.strip()]
        assert {"alembic_version", "batches", "batch_domains"} <= set(_schema(database))
        check = run_domainbatch("db", "check", "--json", env=env, cwd=tmp_path)
        report = json.loads(check.stdout)
        assert report["ok"] and report["schema_revision"] == report["schema_head"]
