"""Creation: a 1,000,000-domain file through ``domainbatch submit`` (Postgres) beside a raw
``COPY`` of the same rows into an equivalent table; then the latency of the status query on that
batch while 4 workers process it.

    python -m bench create [--entries 1000000] [--status-seconds 20]

The raw ``COPY`` reads the same file and streams ``(batch_id, line, 'pending')`` rows with
psycopg into a table made ``LIKE batch_domains INCLUDING ALL`` plus the same foreign key to
``batches``: the same columns, defaults, indexes and constraints, without normalization,
deduplication or counters. It runs before and after the submit (the mean is the baseline); a
run without the foreign key is reported too, for information. ``submit`` is timed as a user
sees it: the whole command, interpreter start-up included.
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
import json
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from tests.support.processes import child_env, domainbatch_argv, stop_all

from bench.common import Part, Watch, percentile, reset_database


def write_file(path: Path, n: int) -> None:
    with path.open("w") as handle:
        step = 100_000
        for start in range(0, n, step):
            handle.write(
                "".join(f"site-{i}.bench.test\n" for i in range(start, min(n, start + step)))
            )


def raw_copy(url: str, path: Path, *, foreign_key: bool) -> float:
    """Seconds to COPY the file's lines into a fresh table equivalent to batch_domains."""
    batch_id = str(uuid.uuid4())
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into batches (id, status, processor, options, max_attempts, total, invalid,"
            " duplicates, created_at) values (%s, 'pending', 'noop', '{}', 3, 0, 0, 0, 0)",
            (batch_id,),
        )
        conn.execute("drop table if exists bench_copy")
        conn.execute("create table bench_copy (like batch_domains including all)")
        if foreign_key:
            conn.execute(
                "alter table bench_copy add foreign key (batch_id) references batches (id)"
                " on delete cascade"
            )
        conn.commit()
        conn.execute("checkpoint")
        started = time.perf_counter()
        sql = "COPY bench_copy (batch_id, domain, status) FROM STDIN"
        with conn.cursor() as cur, path.open() as lines, cur.copy(sql) as copy:
            for line in lines:
                copy.write_row((batch_id, line.rstrip("\n"), "pending"))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("drop table bench_copy")
        conn.commit()
    return elapsed


def submit(url: str, path: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS bytes, batch id) of ``domainbatch submit``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")
    env = child_env(DOMAINBATCH_DATABASE_URL=url, DOMAINBATCH_EXTRA_SUFFIXES="test")
    started = time.perf_counter()
    proc = subprocess.Popen(
        domainbatch_argv("submit", str(path), "-p", "noop", "--json"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with Watch([proc.pid]) as watch:
        out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"domainbatch submit failed: {err[-2000:]}")
    return elapsed, watch.peak[0], json.loads(out)["id"]


async def status_latency(url: str, batch_id: str, seconds: float) -> tuple[list[float], int]:
    """Status query timings (ms) for ``seconds``, and how many domains were done by the end."""
    from domainbatch.runtime import Runtime
    from domainbatch.settings import Settings

    rt = Runtime(Settings(database_url=url))
    timings: list[float] = []
    done = 0
    try:
        await rt.batches().status(batch_id)  # the pool's first connection is not a status read
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = await rt.batches().status(batch_id)
            timings.append((time.perf_counter() - started) * 1000)
            done = int(status.done)
            await asyncio.sleep(0.02)
    finally:
        await rt.close()
    return timings, done


def status_under_load(url: str, batch_id: str, seconds: float, workers: int = 4) -> dict[str, Any]:
    env = child_env(
        DOMAINBATCH_DATABASE_URL=url,
        DOMAINBATCH_CONCURRENCY="200",
        DOMAINBATCH_CLAIM_SIZE="200",
        DOMAINBATCH_ACK_BATCH_SIZE="200",
        DOMAINBATCH_WORKER_PROCESSES="1",  # ``workers`` processes, one worker each
    )
    procs = [
        subprocess.Popen(
            domainbatch_argv("worker", "--quiet"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(2.0)  # interpreters up, claiming
        timings, done = asyncio.run(status_latency(url, batch_id, seconds))
    finally:
        stop_all(procs, grace=60)
    return {
        "samples": len(timings),
        "p50_ms": statistics.median(timings),
        "p99_ms": percentile(timings, 0.99),
        "max_ms": max(timings),
        "done_by_end": done,
    }


def run(
    *,
    entries: int = 1_000_000,
    status_seconds: float = 20.0,
    log: Any = print,
) -> Part:
    part = Part(
        f"Creation of {entries:,} domains (Postgres)",
        ["what", "seconds", "entries/s", "peak RSS MB", "x raw COPY"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "domains.txt"
        write_file(path, entries)
        url = reset_database()
        raw_before = raw_copy(url, path, foreign_key=True)
        log(f"  create: raw COPY {raw_before:.1f} s")
        seconds, peak, batch_id = submit(url, path)
        log(f"  create: domainbatch submit {seconds:.1f} s")
        raw_after = raw_copy(url, path, foreign_key=True)
        raw_plain = raw_copy(url, path, foreign_key=False)
        log(f"  create: raw COPY {raw_after:.1f} s; without the foreign key {raw_plain:.1f} s")
        raw = (raw_before + raw_after) / 2
        part.rows += [
            ["raw COPY, equivalent table (mean of before/after)", raw, entries / raw, None, 1.0],
            [
                "raw COPY, same table without the foreign key",
                raw_plain,
                entries / raw_plain,
                None,
                raw_plain / raw,
            ],
            [
                "domainbatch submit (whole command)",
                seconds,
                entries / seconds,
                peak / 2**20,
                seconds / raw,
            ],
        ]
        part.check("creation: submit / raw COPY", seconds / raw, "<=", 2.0)
        latency = status_under_load(url, batch_id, status_seconds)
        log(
            f"  create: status p50 {latency['p50_ms']:.1f} ms, p99 {latency['p99_ms']:.1f} ms "
            f"({latency['samples']} samples)"
        )
        part.rows.append(
            [
                f"status query, 4 workers running ({latency['samples']} samples):",
                None,
                None,
                None,
                None,
            ]
        )
        part.rows.append(["  p50 ms", latency["p50_ms"], None, None, None])
        part.rows.append(["  p99 ms", latency["p99_ms"], None, None, None])
        part.rows.append(["  max ms", latency["max_ms"], None, None, None])
        part.check(
            f"status p99 on {entries:,} domains, 4 workers (ms)", latency["p99_ms"], "<=", 20
        )
        part.notes.append(
            f"4 workers finished {latency['done_by_end']:,} domains during the "
            f"{status_seconds:g} s of status reads"
        )
        part.raw = {
            "entries": entries,
            "raw_copy_s": [raw_before, raw_after],
            "raw_copy_no_fk_s": raw_plain,
            "submit_s": seconds,
            "submit_peak_rss": peak,
            "status": latency,
        }
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--status-seconds", type=float, default=20.0)


def from_args(args: argparse.Namespace) -> Part:
    return run(entries=args.entries, status_seconds=args.status_seconds)


if __name__ == "__main__":
    from bench.__main__ import main

    main(["create", *sys.argv[1:]])
