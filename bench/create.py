"""Batch creation at scale: ``domainbatch submit`` on 100k and 1M-line files (wall time, entries/s,
peak RSS of the process: memory must stay flat with the batch's size), then the latency of the
status query on the largest batch.

    python bench/create.py [--sizes 100000,1000000] [--backends sqlite,postgres]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/queue.py would shadow the
# standard library's ``queue`` module.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import tempfile
import time

import psutil

from domainbatch.runtime import Runtime
from domainbatch.settings import Settings
from domainbatch.storage.batches import batch_status

PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/domainbatch_bench")


def reset_postgres() -> None:
    import psycopg

    admin = PG.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('drop database if exists "domainbatch_bench" with (force)')
        conn.execute('create database "domainbatch_bench"')
    subprocess.run(
        [sys.executable, "-m", "domainbatch", "db", "upgrade", "--database-url", PG],
        check=True,
        capture_output=True,
    )


def submit(url: str, path: Path) -> tuple[float, int, str]:
    env = {**os.environ, "DOMAINBATCH_DATABASE_URL": url, "DOMAINBATCH_EXTRA_SUFFIXES": "test"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "domainbatch", "submit", str(path), "-p", "noop"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    handle, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(peak, handle.memory_info().rss)
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(err)
    return time.perf_counter() - started, peak, out.strip()


async def status_latency(url: str, batch_id: str, samples: int = 200) -> tuple[float, float]:
    rt = Runtime(Settings(database_url=url))
    timings = []
    try:
        for _ in range(samples):
            started = time.perf_counter()
            await batch_status(rt.db, batch_id)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        await rt.close()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'backend':<9} {'entries':>9} {'seconds':>8} {'entries/s':>10} {'peak RSS MB':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            last_id, url = "", PG
            for n in sizes:
                path = Path(tmp) / f"{n}.txt"
                if not path.exists():
                    path.write_text("".join(f"site-{i}.bench.test\n" for i in range(n)))
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{tmp}/bench-{n}.db"
                else:
                    reset_postgres()
                seconds, peak, last_id = submit(url, path)
                print(
                    f"{backend:<9} {n:>9} {seconds:>8.2f} {n / seconds:>10.0f} "
                    f"{peak / 2**20:>11.1f}",
                    flush=True,
                )
            p50, p99 = asyncio.run(status_latency(url, last_id))
            print(
                f"{backend:<9} status query on {sizes[-1]:,} domains: p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
