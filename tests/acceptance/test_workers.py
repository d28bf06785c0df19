"""Worker processes sharing one database: crash recovery and no double processing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.acceptance.conftest import Cli, cli_env
from tests.support.processes import domainbatch_argv

SCRIPTED = "tests.support.processors:scripted"


def start_worker(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        domainbatch_argv("worker", *args),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def submit(cli: Cli, tmp_path: Path, n: int, *options: str) -> str:
    source = tmp_path / "domains.txt"
    source.write_text("".join(f"d{i}.test\n" for i in range(n)))
    opts = [x for o in options for x in ("-o", o)]
    done = cli("submit", str(source), "-p", SCRIPTED, *opts)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_killed_worker_loses_nothing(cli: Cli, backend: str, tmp_path: Path) -> None:
    batch_id = submit(cli, tmp_path, 300, "delay=0.25")
    log = tmp_path / "processed.log"
    env = cli_env(
        backend, tmp_path, DOMAINBATCH_LEASE_SECONDS="2", DOMAINBATCH_TEST_PROCESSED_LOG=str(log)
    )
    victim = start_worker(env, tmp_path, "--concurrency", "8")
    deadline = time.monotonic() + 60
    while json.loads(cli("status", batch_id, "--json").stdout)["done"] < 24:
        assert time.monotonic() < deadline and victim.poll() is None
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    mid = json.loads(cli("status", batch_id, "--json").stdout)
    assert mid["status"] == "processing" and mid["counts"]["processing"] > 0
    rescuer = start_worker(env, tmp_path, "--burst", "--concurrency", "8")
    _, errs = rescuer.communicate(timeout=120)
    assert rescuer.returncode == 0, errs
    final = json.loads(cli("status", batch_id, "--json").stdout)
    assert final["status"] == "completed"
    assert final["counts"]["succeeded"] == 300 and final["done"] == 300
    results = [json.loads(x) for x in cli("results", batch_id).stdout.splitlines()]
    assert len(results) == 300 and {r["status"] for r in results} == {"succeeded"}
    # Only the domains in hand at the kill were attempted again, each recorded once with
    # attempts == 2: those it had started (logged twice) and those it had claimed but not yet
    # started (logged once; a loaded machine leaves more tasks unstarted, which once made an
    # equality check here fail). In hand: 8 in flight plus what finished since the last ack
    # flush (about 8 at 32 domains/s and 0.2 s), more when load stretches the flush interval.
    seen = Counter(line.split()[1] for line in log.read_text().splitlines())
    twice = {d for d, n in seen.items() if n > 1}
    again = {r["domain"] for r in results if r["attempts"] == 2}
    assert set(seen) == {f"d{i}.test" for i in range(300)}
    assert max(seen.values()) == 2 and len(twice) > 0
    assert twice <= again and len(again) <= 48
    assert {r["attempts"] for r in results} <= {1, 2}


def test_two_workers_never_process_the_same_domain(cli: Cli, backend: str, tmp_path: Path) -> None:
    # 2.5 s of work for one worker alone (400 x 50 ms / 8): at 5 ms (0.25 s) the worker that
    # started first under load sometimes did everything before the other claimed anything.
    batch_id = submit(cli, tmp_path, 400, "delay=0.05")
    log = tmp_path / "processed.log"
    env = cli_env(backend, tmp_path, DOMAINBATCH_TEST_PROCESSED_LOG=str(log))
    workers = [start_worker(env, tmp_path, "--burst", "--concurrency", "8") for _ in range(2)]
    for w in workers:
        _, errs = w.communicate(timeout=120)
        assert w.returncode == 0, errs
    lines = [line.split() for line in log.read_text().splitlines()]
    by_domain = Counter(domain for _, domain in lines)
    assert len(by_domain) == 400 and set(by_domain.values()) == {1}
    assert len({pid for pid, _ in lines}) == 2, "both workers should have taken a share"
    final = json.loads(cli("status", batch_id, "--json").stdout)
    assert final["status"] == "completed" and final["counts"]["succeeded"] == 400


def test_sigterm_releases_work_in_hand(cli: Cli, backend: str, tmp_path: Path) -> None:
    batch_id = submit(cli, tmp_path, 20, "delay=30")
    env = cli_env(backend, tmp_path, DOMAINBATCH_SHUTDOWN_GRACE_SECONDS="0.5")
    worker = start_worker(env, tmp_path, "--concurrency", "4")
    deadline = time.monotonic() + 30
    while json.loads(cli("status", batch_id, "--json").stdout)["counts"]["processing"] < 4:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    worker.send_signal(signal.SIGTERM)
    _, errs = worker.communicate(timeout=30)
    assert worker.returncode == 0, errs
    assert "4 released" in errs
    # Said as it happens: what the stop waits for, then what it gave up, and where each waited.
    assert "stopping: 4 domains in flight may finish within the 0.5 s grace period" in errs
    given_up = re.search(
        r"4 domains still in flight after the 0.5 s grace period are released for another "
        r"worker: (.*)$",
        errs,
        re.M,
    )
    assert given_up is not None, errs
    assert given_up[1].count("(in behave)") == 4, given_up[1]
    status = json.loads(cli("status", batch_id, "--json").stdout)
    assert status["counts"]["processing"] == 0 and status["counts"]["pending"] == 20
    rows = [json.loads(x) for x in cli("results", batch_id).stdout.splitlines()]
    assert {r["attempts"] for r in rows} == {0}


def test_worker_batch_option_leaves_other_batches_alone(
    cli: Cli, backend: str, tmp_path: Path
) -> None:
    mine = submit(cli, tmp_path, 5)
    other = submit(cli, tmp_path, 5)
    worker = start_worker(cli_env(backend, tmp_path), tmp_path, "--burst", "--batch", mine)
    _, errs = worker.communicate(timeout=60)
    assert worker.returncode == 0, errs
    assert "5 claimed" in errs
    assert json.loads(cli("status", mine, "--json").stdout)["status"] == "completed"
    untouched = json.loads(cli("status", other, "--json").stdout)
    assert untouched["status"] == "pending" and untouched["counts"]["pending"] == 5
