"""The end-to-end validation script's keyed API steps (scripts/testing/keyed_api.py), run as an
operator runs the script: it passes on SQLite showing every keyed step and leaves no batch,
tenant or key behind; its negative control (the receiver verifies webhooks with a wrong
secret) fails with the reason."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.acceptance.test_validation_scripts import migrate_sqlite, rows_left, run, sqlite_url

KEYED_STEPS = [
    "keyed server: ready; two tenants' keys from `domainbatch keys create`",
    "no key, an unknown key, a malformed header: 401; /healthz needs no key",
    "tenant A creates batches with a signed webhook; B creates one",
    "isolation: B gets 404 on every route of A's batch; each lists only its own",
    "cancel over the API while the worker processes the batch",
    "retry over the API: the failed domain is processed again, the batch ends again",
    "webhooks: every event arrived once, signed; a tampered copy does not verify",
    "B's key, revoked with `domainbatch keys revoke`, is refused within 5 s",
]


def run_e2e(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The e2e script on an existing SQLite database (so what it leaves can be counted), with
    a small large batch: the keyed steps come after it."""
    migrate_sqlite(tmp_path)
    return run(
        "test_batch_e2e",
        tmp_path,
        "--domains",
        "100",
        *args,
        DOMAINBATCH_DATABASE_URL=sqlite_url(tmp_path),
    )


def check_nothing_left(tmp_path: Path, output: str) -> None:
    assert rows_left(tmp_path) == dict.fromkeys(rows_left(tmp_path), 0)
    with sqlite3.connect(tmp_path / "scripts.db") as conn:
        for table in ("tenants", "api_keys"):
            assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    children = [int(pid) for pid in re.findall(r"started [\w-]+ \(pid (\d+)\)", output)]
    assert any("keyed-worker" in line for line in output.splitlines() if "started" in line)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_e2e_passes_on_sqlite_with_the_keyed_steps(tmp_path: Path) -> None:
    done = run_e2e(tmp_path)
    output = done.stderr
    assert done.returncode == 0, output
    for title in KEYED_STEPS:
        assert f"ok   {title} (" in output, title
    received = re.search(r"webhooks received and verified: (\{.*\})", output)
    assert received is not None, output
    for event in ("batch.started", "batch.completed", "batch.failed", "batch.cancelled"):
        assert f"'{event}'" in received.group(1), received.group(1)
    assert re.search(r"cancelled batch: \{[^}]*'cancelled': [1-9]", output), output
    assert "cleanup: tenants validation-e2e-a-" in output
    assert "PASSED test_batch_e2e in" in output.splitlines()[-1]
    check_nothing_left(tmp_path, output)


def test_e2e_fails_when_webhook_signatures_do_not_verify(tmp_path: Path) -> None:
    done = run_e2e(tmp_path, "--bad-webhook-secret")
    output = done.stderr
    assert done.returncode == 1, output
    failed = [line for line in output.splitlines() if "FAILED [step:" in line]
    assert len(failed) == 1, output
    assert (
        "FAILED [step: webhooks: every event arrived once, signed; a tampered copy does not "
        "verify]: webhook signature did not verify: batch."
    ) in failed[0]
    assert "Traceback" not in output
    check_nothing_left(tmp_path, output)
