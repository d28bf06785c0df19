"""Adaptive concurrency through the real command (SQLite): a worker with more work than slots
and a processor that only waits (as a domain waits on the internet) raises its level well above
the floor; ``--concurrency`` pins it; ``status`` shows each live worker's level."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.acceptance.conftest import cli_env
from tests.support.apiserver import SCRIPTED, ApiServer
from tests.support.processes import Process, domainbatch_argv, run_domainbatch

FLOOR = 16  # MIN_CONCURRENCY's default


def domains(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "domains.txt"
    path.write_text("".join(f"d{i}.test\n" for i in range(count)))
    return path


def levels(log: str) -> list[int]:
    """Every level the log shows: throughput lines, and the lines of a 2x change."""
    shown = [int(n.replace(",", "")) for n in re.findall(r"in flight, concurrency ([\d,]+)", log)]
    return shown + [int(n) for n in re.findall(r"concurrency \d+ -> (\d+) \(", log)]


def test_run_raises_its_level_well_above_the_floor_while_domains_only_wait(
    tmp_path: Path,
) -> None:
    # 2,000 domains of 0.5 s each: 62 s at the floor, ~10 s once the level has grown.
    env = cli_env("sqlite", tmp_path, DOMAINBATCH_LOG_INTERVAL_SECONDS="1")
    ran = run_domainbatch(
        "run",
        str(domains(tmp_path, 2000)),
        "-p",
        SCRIPTED,
        "-o",
        "delay=0.5",
        "-v",
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "starting: concurrency adaptive 16..1000" in ran.stderr
    seen = levels(ran.stderr)
    assert seen and all(FLOOR <= level <= 1000 for level in seen), seen
    # Four times the floor at least (the level doubles in under 4 s when nothing presses).
    assert max(seen) >= 4 * FLOOR, ran.stderr[-3000:]
    assert re.search(r"concurrency 16 -> 32 \(headroom\)", ran.stderr), ran.stderr[-3000:]


def test_a_pinned_level_never_moves_and_status_shows_each_workers_level(
    tmp_path: Path,
) -> None:
    env = cli_env(
        "sqlite",
        tmp_path,
        DOMAINBATCH_LOG_INTERVAL_SECONDS="0.5",
        DOMAINBATCH_LEASE_SECONDS="3",  # heartbeats every second
    )
    submitted = run_domainbatch(
        "submit", str(domains(tmp_path, 120)), "-p", SCRIPTED, "-o", "delay=0.3", env=env
    )
    assert submitted.returncode == 0, submitted.stderr
    batch_id = submitted.stdout.strip().splitlines()[-1]
    argv = domainbatch_argv("worker", "--burst", "--concurrency", "8")
    with Process(argv, env=env, cwd=tmp_path, log=tmp_path / "worker.log") as worker:
        deadline = time.monotonic() + 30
        shown = ""
        while "concurrency 8 (pinned), 8 in flight" not in shown:
            assert time.monotonic() < deadline, shown
            shown = run_domainbatch("status", batch_id, env=env).stdout
            time.sleep(0.2)
        assert re.search(rf"worker \S+:{worker.pid}\W+concurrency 8 \(pinned\)", shown), shown
        assert worker.proc is not None
        assert worker.proc.wait(timeout=60) == 0, worker.tail()
        log = worker.output()
    assert "starting: concurrency 8 (pinned)" in log
    seen = levels(log)
    assert seen and set(seen) == {8}, log
    assert " -> " not in log


def test_metrics_show_each_live_workers_level(api: ApiServer) -> None:
    """``serve``'s embedded worker (adaptive) is listed fleet-wide with its level."""
    pattern = r'domainbatch_worker_concurrency\{worker="[^"]+",mode="adaptive"\} (\d+)'
    deadline = time.monotonic() + 20
    while not (found := re.search(pattern, text := api.get("/metrics", key="").text)):
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    assert FLOOR <= int(found[1]) <= 1000
    assert re.search(r'domainbatch_worker_inflight\{worker="[^"]+"\} \d+', text), text
