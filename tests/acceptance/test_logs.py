"""Logs and lifecycle through the real command: log levels and formats, the worker's lines,
plurals, Ctrl-C on ``run`` (exit 130, the batch resumable) and ``serve`` on a busy port."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli, cli_env, server_env
from tests.support.apiserver import SCRIPTED, ApiServer
from tests.support.processes import Process, domainbatch_argv, run_domainbatch


def write(tmp_path: Path, name: str, domains: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(domains) + "\n")
    return path


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_worker_logs_json_with_a_throughput_line_and_no_alembic_lines(
    cli: Cli, tmp_path: Path
) -> None:
    domains = write(tmp_path, "d.txt", [f"d{i}.test" for i in range(40)] + ["fail-1.test"])
    assert cli("submit", str(domains), "-p", SCRIPTED, "-o", "delay=0.05").returncode == 0
    done = cli(
        "worker",
        "--burst",
        "--log-format",
        "json",
        DOMAINBATCH_LOG_INTERVAL_SECONDS="0.2",
        DOMAINBATCH_CONCURRENCY="4",
    )
    assert done.returncode == 0, done.stderr
    logged = [line for line in done.stderr.splitlines() if not line.startswith("worker done")]
    entries = [json.loads(line) for line in logged]  # every log line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert str(entries[0]["time"]).endswith("Z")
    assert not [e for e in entries if str(e["logger"]).startswith("alembic")]
    throughput = [e for e in entries if str(e["message"]).startswith("throughput:")]
    assert throughput, done.stderr
    assert {"claimed", "succeeded", "failed", "per_second", "inflight", "concurrency"} <= set(
        throughput[0]
    )
    last = entries[-1]["message"]
    assert "41 claimed, 40 succeeded, 1 failed" in str(last) and "latency p50" in str(last)
    assert "Histogram object" not in done.stderr


def test_default_level_has_no_alembic_lines_and_levels_are_checked(
    cli: Cli, tmp_path: Path
) -> None:
    quiet = cli("worker", "--burst")
    assert quiet.returncode == 0 and "alembic" not in quiet.stderr
    assert "INFO domainbatch.worker: worker " in quiet.stderr
    warning = cli("worker", "--burst", "--log-level", "WARNING")
    assert "INFO" not in warning.stderr and "worker done: 0 claimed" in warning.stderr
    bad = cli("worker", "--burst", "--log-level", "loud")
    assert bad.returncode == 2 and "loud" in bad.stderr
    # A flag on the command line wins over the environment, the shorthands included.
    hushed = cli("worker", "--burst", "-q", DOMAINBATCH_LOG_LEVEL="info")
    assert "INFO" not in hushed.stderr and "worker done" in hushed.stderr, hushed.stderr
    told = cli("worker", "--burst", "-v", DOMAINBATCH_LOG_LEVEL="warning")
    assert "INFO domainbatch.worker: worker " in told.stderr, told.stderr


def test_plurals_and_long_lines_when_piped(cli: Cli, tmp_path: Path) -> None:
    name = "a-file-name-long-enough-to-push-the-line-past-eighty-columns-" * 2 + ".txt"
    domains = write(tmp_path, name, ["x.test", "x.test"])
    created = cli("submit", str(domains), "-p", SCRIPTED, COLUMNS="")
    assert created.returncode == 0, created.stderr
    assert "1 domain (0 invalid, 1 duplicate merged)" in created.stderr
    batch_id = created.stdout.strip().splitlines()[-1]
    cancelled = cli("cancel", batch_id)
    assert cancelled.stdout.strip() == f"cancelled batch {batch_id} (1 pending domain cancelled)"
    missing = cli("status", "no-such-batch-" + "x" * 80, COLUMNS="")
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1  # one line, not cut at 80 columns


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_interrupted_exits_128_plus_the_signal_and_the_batch_resumes(
    backend: str, tmp_path: Path, sig: signal.Signals
) -> None:
    # A long grace period: the second signal releases the slow domains without waiting for it.
    env = cli_env(
        backend, tmp_path, DOMAINBATCH_SHUTDOWN_GRACE_SECONDS="60", DOMAINBATCH_CONCURRENCY="2"
    )
    domains = write(tmp_path, "d.txt", ["slow-1.test", "slow-2.test", "ok.test"])
    argv = domainbatch_argv("run", str(domains), "-p", SCRIPTED, "-o", "slow=3", "-v")
    with Process(argv, env=env, cwd=tmp_path, log=tmp_path / "run.log") as run:
        deadline = time.monotonic() + 30
        while "starting: concurrency" not in run.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the slow domains are in flight
        assert run.proc is not None
        run.proc.send_signal(sig)
        time.sleep(0.5)
        assert run.running()  # the first signal waits for the in-flight domains
        run.proc.send_signal(sig)
        code = run.proc.wait(timeout=20)
    assert code == 128 + sig, run.output()
    assert "`domainbatch worker` continues it" in run.output()
    batch_id = re.search(r"batch (\S+): 3 domains", run.output())[1]  # type: ignore[index]
    status = json.loads(run_domainbatch("status", batch_id, "--json", env=env).stdout)
    assert status["status"] == "processing" and status["counts"]["processing"] == 0  # released
    resumed = run_domainbatch("worker", "--burst", "-q", env=env, cwd=tmp_path, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    status = json.loads(run_domainbatch("status", batch_id, "--json", env=env).stdout)
    assert status["status"] == "completed" and status["counts"]["succeeded"] == 3


def test_serve_on_a_busy_port_fails_at_once_and_touches_no_database(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    database = tmp_path / "fresh.db"
    env = server_env("sqlite", tmp_path, DOMAINBATCH_DATABASE_URL=f"sqlite:///{database}")
    try:
        began = time.monotonic()
        served = subprocess.run(
            domainbatch_argv("serve", "--port", str(port)),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        busy.close()
    assert served.returncode == 1, served.stderr
    assert served.stderr.strip().splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "migrat" not in served.stderr.lower() and "worker" not in served.stderr
    assert time.monotonic() - began < 10
    if database.exists():  # created empty by nothing we know of: at least no schema
        assert sqlite3.connect(database).execute("select name from sqlite_master").fetchall() == []


def test_serve_logs_uvicorn_in_the_same_json_and_ctrl_c_exits_130(tmp_path: Path) -> None:
    env = server_env("sqlite", tmp_path)
    server = ApiServer(env, tmp_path, "--no-auth", "--log-format", "json").start()
    try:
        assert server.get("/healthz").status_code == 200
        assert server.proc is not None
        server.proc.send_signal(signal.SIGINT)
        code = server.proc.wait(timeout=30)
    finally:
        server.stop()
    assert code == 130, server.output()
    entries = json_lines(server.output())
    loggers = {str(e["logger"]) for e in entries}
    assert {"uvicorn.error", "uvicorn.access", "domainbatch.worker"} <= loggers
    assert f"listening on http://127.0.0.1:{server.port}" in str(entries[0]["message"])
    assert not [e for e in entries if str(e["logger"]).startswith("alembic")]
    # Every line but the --no-auth warning is one JSON object.
    others = [line for line in server.output().splitlines() if not line.startswith("{")]
    assert len(others) == 1 and others[0].startswith("WARNING: --no-auth"), others


def test_submit_of_a_big_file_shows_progress_on_a_terminal_only(
    backend: str, tmp_path: Path
) -> None:
    big = write(tmp_path, "big.txt", [f"domain-{i}.test" for i in range(60_000)])
    assert big.stat().st_size > 1024 * 1024
    env = cli_env(backend, tmp_path)
    piped = run_domainbatch("submit", str(big), "-p", SCRIPTED, env=env, cwd=tmp_path)
    assert piped.returncode == 0 and "reading" not in piped.stderr
    assert piped.stderr.startswith("batch ") and len(piped.stderr.splitlines()) == 1
    # stderr on a terminal: a progress bar while the file is read; stdout stays the id.
    leader, follower = pty.openpty()
    submit = subprocess.Popen(
        domainbatch_argv("submit", str(big), "-p", SCRIPTED),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the child closed the terminal
        while chunk := os.read(leader, 65536):
            shown += chunk
    os.close(leader)
    stdout, _ = submit.communicate(timeout=120)
    assert submit.returncode == 0
    assert b"reading" in shown and b"MB" in shown, shown[-500:]
    assert len(stdout.split()) == 1  # the id alone
