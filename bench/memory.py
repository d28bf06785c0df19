"""Memory: the peak RSS of one worker process after 100,000 and after 1,000,000 ``noop`` domains
(Postgres direct), and optionally a soak: one worker fed with batches for MINUTES.

    python -m bench memory [--checkpoints 100000,1000000] [--soak MINUTES]

The worker's RSS is sampled every 0.2 s and its progress every 0.5 s (from the batch's
counters); at each checkpoint the figure is the peak RSS so far. The target: flat within 10%
from the first checkpoint to the last.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (python bench/X.py), this folder would come first on sys.path: put the
# repository there instead, so ``bench`` is the package and ``queue`` the standard library.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import contextlib
import subprocess
import time
from typing import Any

import psutil
import psycopg
from tests.support.processes import child_env, domainbatch_argv, stop

from bench.common import Part, reset_database

ENV = {
    "DOMAINBATCH_CONCURRENCY": "200",
    "DOMAINBATCH_CLAIM_SIZE": "200",
    "DOMAINBATCH_ACK_BATCH_SIZE": "200",
    "DOMAINBATCH_EXTRA_SUFFIXES": "test",
    "DOMAINBATCH_WORKER_PROCESSES": "1",  # the memory of one worker process
}


async def _create(url: str, n: int, prefix: str = "m") -> str:
    from domainbatch.runtime import Runtime
    from domainbatch.settings import Settings

    rt = Runtime(Settings(database_url=url, extra_suffixes=["test"]))
    try:
        created = await rt.batches().create(
            (f"{prefix}{i}.bench.test" for i in range(n)), processor="noop"
        )
        return created.id
    finally:
        await rt.close()


def _succeeded(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "select coalesce(sum(n), 0) from batch_counts where status = 'succeeded'"
    ).fetchone()
    return int(row[0]) if row else 0


def _start_worker(url: str, burst: bool) -> subprocess.Popen[bytes]:
    command = domainbatch_argv("worker", "--quiet")
    if burst:
        command.append("--burst")
    return subprocess.Popen(
        command,
        env=child_env(DOMAINBATCH_DATABASE_URL=url, **ENV),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def checkpoints_run(url: str, checkpoints: tuple[int, ...], log: Any) -> list[dict[str, Any]]:
    total = max(checkpoints)
    asyncio.run(_create(url, total))
    proc = _start_worker(url, burst=True)
    handle = psutil.Process(proc.pid)
    peak, marks, pending = 0, [], sorted(checkpoints)
    started = time.monotonic()
    last_progress = 0.0
    with psycopg.connect(url, autocommit=True) as conn:
        while proc.poll() is None and pending:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, handle.memory_info().rss)
            now = time.monotonic()
            if now - last_progress >= 0.5:
                last_progress = now
                done = _succeeded(conn)
                while pending and done >= pending[0]:
                    marks.append(
                        {
                            "processed": pending.pop(0),
                            "seen_at": done,
                            "peak_rss": peak,
                            "seconds": now - started,
                        }
                    )
                    log(f"  memory: {done:,} processed, peak RSS {peak / 2**20:.1f} MB")
            time.sleep(0.2)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"worker failed: {err.decode()[-2000:]}")
        done = _succeeded(conn)
    for checkpoint in pending:  # the worker ended between two progress reads
        if done >= checkpoint:
            marks.append(
                {
                    "processed": checkpoint,
                    "seen_at": done,
                    "peak_rss": peak,
                    "seconds": time.monotonic() - started,
                }
            )
    return marks


def soak_run(url: str, minutes: float, log: Any, batch: int = 50_000) -> dict[str, Any]:
    """One long-running worker, fed a new batch whenever less than one batch is pending."""
    proc = _start_worker(url, burst=False)
    handle = psutil.Process(proc.pid)
    samples: list[tuple[float, int, int]] = []
    started = time.monotonic()
    fed = 0
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() - started < minutes * 60:
                row = conn.execute(
                    "select coalesce(sum(n), 0) from batch_counts where status = 'pending'"
                ).fetchone()
                if row is not None and int(row[0]) < batch:
                    asyncio.run(_create(url, batch, prefix=f"s{fed}-"))
                    fed += 1
                with contextlib.suppress(psutil.Error):
                    samples.append(
                        (time.monotonic() - started, handle.memory_info().rss, _succeeded(conn))
                    )
                time.sleep(1.0)
    finally:
        stop(proc, grace=60)
    first_minute = [rss for t, rss, _ in samples if t <= 60] or [samples[0][1]]
    last = samples[-1]
    log(f"  memory soak: {last[2]:,} processed in {minutes:g} min, RSS {last[1] / 2**20:.1f} MB")
    return {
        "minutes": minutes,
        "processed": last[2],
        "rss_first_minute_max": max(first_minute),
        "rss_end": last[1],
        "rss_peak": max(rss for _, rss, _ in samples),
        "samples": [(round(t, 1), rss) for t, rss, _ in samples[:: max(1, len(samples) // 200)]],
    }


def run(
    *,
    checkpoints: tuple[int, ...] = (100_000, 1_000_000),
    soak_minutes: float | None = None,
    log: Any = print,
) -> Part:
    url = reset_database()
    marks = checkpoints_run(url, checkpoints, log)
    part = Part(
        "Worker memory (noop, Postgres direct, 1 worker, concurrency 200)",
        ["domains processed", "peak RSS MB so far", "seconds"],
    )
    for m in marks:
        part.rows.append([m["processed"], m["peak_rss"] / 2**20, m["seconds"]])
    if len(marks) >= 2:
        growth = marks[-1]["peak_rss"] / marks[0]["peak_rss"]
        part.check(
            f"memory: peak RSS at {marks[-1]['processed']:,} / at {marks[0]['processed']:,}",
            growth,
            "<=",
            1.10,
        )
    part.raw = {"checkpoints": marks}
    if soak_minutes:
        soak = soak_run(reset_database(), soak_minutes, log)
        part.rows.append(
            [
                f"soak {soak_minutes:g} min: {soak['processed']:,} processed, RSS end",
                soak["rss_end"] / 2**20,
                soak_minutes * 60,
            ]
        )
        part.check(
            f"memory: soak RSS end / first minute ({soak_minutes:g} min)",
            soak["rss_end"] / soak["rss_first_minute_max"],
            "<=",
            1.10,
        )
        part.raw["soak"] = soak
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoints", default="100000,1000000")
    parser.add_argument("--soak", type=float, metavar="MINUTES")


def from_args(args: argparse.Namespace) -> Part:
    return run(
        checkpoints=tuple(int(c) for c in args.checkpoints.split(",")),
        soak_minutes=args.soak,
    )


if __name__ == "__main__":
    from bench.__main__ import main

    main(["memory", *sys.argv[1:]])
