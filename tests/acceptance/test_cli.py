"""The CLI as a user meets it: a subprocess, real files, a real DNS server on 127.0.0.1."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from domainbatch.storage import migrate
from tests.acceptance.conftest import Cli
from tests.support.dnsserver import LocalDNS


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_run_processes_a_file_end_to_end(cli: Cli, tmp_path: Path) -> None:
    source = write(
        tmp_path / "domains.txt",
        "# customers\nalpha.test\nmail-beta.test\n\nALPHA.test\nnx-gone.test\nlocalhost\n",
    )
    with LocalDNS() as dns:
        done = cli(
            "run",
            str(source),
            "--processor",
            "dns",
            "--json",
            "--output",
            str(tmp_path / "out.jsonl"),
            DOMAINBATCH_NAMESERVERS=dns.address,
        )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "completed"
    assert status["total"] == 4 and status["duplicates"] == 1
    assert status["counts"]["succeeded"] == 2
    assert status["counts"]["failed"] == 1 and status["counts"]["invalid"] == 1
    assert status["errors"] == {"dns_nxdomain": 1}
    assert status["progress"] == 100
    lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    by_domain = {x["input"]: x for x in lines}
    assert by_domain["alpha.test"]["result"]["addresses"] == ["192.0.2.1"]
    assert by_domain["mail-beta.test"]["result"]["accepts_mail"] is True
    assert by_domain["alpha.test"]["result"]["accepts_mail"] is False
    assert by_domain["localhost"]["status"] == "invalid"


def test_submit_status_results_cancel_retry(cli: Cli, tmp_path: Path) -> None:
    source = write(tmp_path / "in.csv", "name,website\nA,https://one.test/\nB,fail-two.test\n")
    submitted = cli("submit", str(source), "-p", "tests.support.processors:scripted")
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.strip()
    status = json.loads(cli("status", batch_id, "--json").stdout)
    assert status["status"] == "pending" and status["total"] == 2
    listed = json.loads(cli("list", "--json").stdout)
    assert [b["id"] for b in listed] == [batch_id]
    worked = cli("worker", "--burst")
    assert worked.returncode == 0, worked.stderr
    assert "2 claimed" in worked.stderr
    status = json.loads(cli("status", batch_id, "--json").stdout)
    assert status["status"] == "completed" and status["errors"] == {"http_status": 1}
    exported = cli("results", batch_id, "--format", "csv")
    rows = list(csv.DictReader(exported.stdout.splitlines()))
    assert {r["domain"]: r["status"] for r in rows} == {
        "one.test": "succeeded",
        "fail-two.test": "failed",
    }
    retried = cli("retry", batch_id)
    assert retried.returncode == 0 and "re-queued 1" in retried.stdout
    cancelled = cli("cancel", batch_id)
    assert cancelled.returncode == 0 and "1 pending domain cancelled" in cancelled.stdout
    again = cli("cancel", batch_id)
    assert again.returncode == 1 and "already cancelled" in again.stderr
    watch = cli("status", batch_id, "--watch", "--json")
    assert json.loads(watch.stdout)["status"] == "cancelled"


def test_bad_input_gets_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.txt", "# nothing here\n\n")
    cases = [
        (cli("run", str(tmp_path / "missing.txt")), "cannot read"),
        (cli("run", str(empty)), "no entries"),
        (cli("submit", str(empty)), "no entries"),
        (cli("status", "00000000-0000-0000-0000-000000000000"), "no batch"),
        (
            cli("submit", str(write(tmp_path / "x.txt", "a.test\n")), "-p", "nope"),
            "unknown processor",
        ),
        (cli("run", str(empty), "--output", "out.txt"), "--output must end"),
        (cli("status", "x", DOMAINBATCH_DATABASE_URL="mysql://u@h/db"), "unsupported database"),
        (cli("list", DOMAINBATCH_CONCURRENCY="many"), "invalid setting concurrency"),
    ]
    for result, expected in cases:
        assert result.returncode != 0
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_db_commands(cli: Cli) -> None:
    upgraded = cli("db", "upgrade")
    head = migrate.head_revision()
    assert upgraded.returncode == 0 and f"revision {head}" in upgraded.stdout
    report = json.loads(cli("db", "check", "--json").stdout)
    assert report["ok"] is True and report["checked_out_connections"] == 0
    assert report["schema_revision"] == report["schema_head"] == head
    assert report["server_version"].startswith(("SQLite", "PostgreSQL"))
    for command in ("run", "submit", "status", "list", "results", "cancel", "retry", "worker"):
        assert cli(command, "--help").returncode == 0
    for command in (("serve",), ("keys", "create"), ("keys", "list"), ("keys", "revoke")):
        assert cli(*command, "--help").returncode == 0
