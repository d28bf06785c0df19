"""``run`` and ``worker`` with several processes: each domain processed once, the work shared,
signals reaching every process, and no process outliving the command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from tests.acceptance.conftest import Cli, cli_env
from tests.acceptance.test_workers import SCRIPTED, start_worker, submit
from tests.conftest import BACKENDS, PG_URL, PGBOUNCER_URL

# The signal tests on one database of each kind (the claims are the same SQL through PgBouncer).
DIRECT = [b for b in BACKENDS if b in ("sqlite", "postgres")]


def stored_worker_ids(backend: str, tmp_path: Path) -> Counter[str]:
    """Domains per worker id, as ``batch_domains`` records who processed each."""
    query = "SELECT worker_id, count(*) FROM batch_domains GROUP BY worker_id"
    if backend == "sqlite":
        with closing(sqlite3.connect(tmp_path / "domainbatch.db")) as conn:
            return Counter(dict(conn.execute(query).fetchall()))
    url = PG_URL if backend == "postgres" else PGBOUNCER_URL
    with psycopg.connect(url, prepare_threshold=None) as conn:
        return Counter(dict(conn.execute(query).fetchall()))


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Pids killed at the end, should a failing test leave them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def worker_children(pid: int) -> list[int]:
    """The ``domainbatch worker --processes 1`` processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"worker" in argv and b"--processes" in argv:
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (whoever adopted an orphan may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def released_lines(log: str) -> int:
    """Workers whose last line says they released the 4 domains in hand."""
    return sum("stopped:" in line and "4 released" in line for line in log.splitlines())


def counts(cli: Cli, batch_id: str) -> dict[str, int]:
    status = json.loads(cli("status", batch_id, "--json").stdout)
    return dict(status["counts"], done=status["done"])


def test_run_with_two_processes_shares_the_work(cli: Cli, backend: str, tmp_path: Path) -> None:
    source = tmp_path / "domains.txt"
    source.write_text("".join(f"d{i}.test\n" for i in range(300)))
    log = tmp_path / "processed.log"
    done = cli(
        "run", str(source), "-p", SCRIPTED, "-o", "delay=0.1", "-c", "4", "--processes", "2",
        "--json", DOMAINBATCH_TEST_PROCESSED_LOG=str(log),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "completed"
    assert status["counts"]["succeeded"] == 300 and status["done"] == 300
    attempts = Counter(line.split()[1] for line in log.read_text().splitlines())
    assert len(attempts) == 300 and set(attempts.values()) == {1}
    rows = [json.loads(x) for x in cli("results", status["id"]).stdout.splitlines()]
    assert len(rows) == 300 and {r["attempts"] for r in rows} == {1}
    workers = stored_worker_ids(backend, tmp_path)
    assert sum(workers.values()) == 300 and len(workers) == 2, workers


def start_two(
    backend: str, tmp_path: Path, batch_id: str, cli: Cli, leftovers: list[int]
) -> tuple[subprocess.Popen[str], list[int]]:
    """``worker --processes 2`` with both processes holding domains, and its child's pid."""
    env = cli_env(backend, tmp_path, DOMAINBATCH_SHUTDOWN_GRACE_SECONDS="0.5")
    parent = start_worker(env, tmp_path, "--processes", "2", "--concurrency", "4")
    leftovers.append(parent.pid)
    # Each process holds at most 4: 8 in hand means both claimed.
    wait_until(lambda: counts(cli, batch_id)["processing"] == 8, "both processes claiming")
    children = worker_children(parent.pid)
    leftovers.extend(children)
    assert len(children) == 1
    return parent, children


@pytest.mark.parametrize("backend", DIRECT, indirect=True)
def test_sigterm_stops_every_process(
    cli: Cli, backend: str, tmp_path: Path, leftovers: list[int]
) -> None:
    batch_id = submit(cli, tmp_path, 40, "delay=30")
    parent, children = start_two(backend, tmp_path, batch_id, cli, leftovers)
    parent.send_signal(signal.SIGTERM)
    _, errs = parent.communicate(timeout=60)
    assert parent.returncode == 0, errs
    assert released_lines(errs) == 2, errs
    assert not any(running(pid) for pid in children)
    after = counts(cli, batch_id)
    assert after["processing"] == 0 and after["pending"] == 40


@pytest.mark.parametrize("backend", DIRECT, indirect=True)
def test_children_end_with_a_killed_parent(
    cli: Cli, backend: str, tmp_path: Path, leftovers: list[int]
) -> None:
    batch_id = submit(cli, tmp_path, 40, "delay=30")
    parent, children = start_two(backend, tmp_path, batch_id, cli, leftovers)
    parent.send_signal(signal.SIGKILL)
    parent.wait(30)  # not communicate(): its children hold its pipes until they exit
    wait_until(lambda: not any(running(pid) for pid in children), "the children to exit")
    # They stopped gracefully (SIGTERM): their domains are back in the queue, the parent's
    # (killed) wait for their lease.
    assert counts(cli, batch_id)["processing"] == 4


@pytest.mark.parametrize("backend", DIRECT, indirect=True)
def test_one_process_starts_no_other(
    cli: Cli, backend: str, tmp_path: Path, leftovers: list[int]
) -> None:
    batch_id = submit(cli, tmp_path, 20, "delay=30")
    env = cli_env(backend, tmp_path, DOMAINBATCH_SHUTDOWN_GRACE_SECONDS="0.5")
    worker = start_worker(env, tmp_path, "--processes", "1", "--concurrency", "4")
    leftovers.append(worker.pid)
    wait_until(lambda: counts(cli, batch_id)["processing"] == 4, "the worker claiming")
    assert worker_children(worker.pid) == []
    worker.send_signal(signal.SIGTERM)
    _, errs = worker.communicate(timeout=60)
    assert worker.returncode == 0, errs
    assert "more worker processes" not in errs and released_lines(errs) == 1
