"""Queue overhead: the ``noop`` processor over N domains with 1..N worker processes, on SQLite,
Postgres direct and Postgres through PgBouncer (transaction mode). Prints creation rate,
processing rate (domains/s) and the peak RSS of the worker processes.

    python bench/queue.py --domains 100000 --workers 1,2,4 --backends sqlite,postgres,pgbouncer
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``queue`` (which psycopg imports).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import contextlib
import os
import subprocess
import tempfile
import time

import psutil
import psycopg

from domainbatch.runtime import Runtime
from domainbatch.settings import Settings
from domainbatch.storage import migrate
from domainbatch.storage.batches import batch_status

PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/domainbatch_bench")
BOUNCER = os.environ.get(
    "BENCH_PGBOUNCER_URL", "postgresql://postgres@127.0.0.1:6432/domainbatch_bench"
)


def url_for(backend: str, workdir: Path) -> tuple[str, str]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}", "direct"
    return (PG, "direct") if backend == "postgres" else (BOUNCER, "transaction")


def reset_postgres() -> None:
    admin = PG.rsplit("/", 1)[0] + "/postgres"
    name = PG.rsplit("/", 1)[1]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')


async def create(settings: Settings, n: int) -> tuple[str, float]:
    rt = Runtime(settings)
    await migrate.upgrade(rt.db)
    started = time.perf_counter()
    created = await rt.submit((f"d{i}.bench.test" for i in range(n)), processor="noop")
    elapsed = time.perf_counter() - started
    await rt.close()
    return created.id, elapsed


async def final_status(settings: Settings, batch_id: str) -> dict[str, object]:
    rt = Runtime(settings)
    try:
        return await batch_status(rt.db, batch_id)
    finally:
        await rt.close()


def watch_rss(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    """Sample each worker's RSS until all exit; returns each one's peak in bytes."""
    handles = [psutil.Process(p.pid) for p in procs]
    peak = [0] * len(procs)
    while any(p.poll() is None for p in procs):
        for i, handle in enumerate(handles):
            with contextlib.suppress(psutil.Error):
                peak[i] = max(peak[i], handle.memory_info().rss)
        time.sleep(0.05)
    return peak


def run_one(backend: str, n: int, workers: int, concurrency: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if backend != "sqlite":
            reset_postgres()
        url, mode = url_for(backend, workdir)
        env = {
            **os.environ,
            "DOMAINBATCH_DATABASE_URL": url,
            "DOMAINBATCH_POOLER_MODE": mode,
            "DOMAINBATCH_EXTRA_SUFFIXES": "test",
            "DOMAINBATCH_CONCURRENCY": str(concurrency),
            "DOMAINBATCH_CLAIM_SIZE": str(min(concurrency, 500)),
            "DOMAINBATCH_ACK_BATCH_SIZE": str(max(concurrency, 200)),
        }
        settings = Settings(database_url=url, pooler_mode=mode, extra_suffixes=["test"])  # type: ignore[arg-type]
        batch_id, create_s = asyncio.run(create(settings, n))
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "domainbatch", "worker", "--burst", "--quiet"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(workers)
        ]
        peak = watch_rss(procs)
        for proc in procs:
            _, errs = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"worker failed on {backend}: {errs.decode()[-2000:]}")
        elapsed = time.perf_counter() - started
        status = asyncio.run(final_status(settings, batch_id))
        counts = status["counts"]
        assert isinstance(counts, dict) and counts["succeeded"] == n, status
    return {
        "backend": backend,
        "workers": workers,
        "domains": n,
        "create_per_s": round(n / create_s),
        "process_per_s": round(n / elapsed),
        "seconds": round(elapsed, 2),
        "peak_rss_mb": round(max(peak) / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--backends", default="sqlite,postgres,pgbouncer")
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    header = (
        f"{'backend':<10} {'workers':>7} {'domains':>8} {'create/s':>9} {'noop/s':>8} "
        f"{'seconds':>8} {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    for backend in args.backends.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            r = run_one(backend, args.domains, workers, args.concurrency)
            print(
                f"{r['backend']:<10} {r['workers']:>7} {r['domains']:>8} {r['create_per_s']:>9} "
                f"{r['process_per_s']:>8} {r['seconds']:>8} {r['peak_rss_mb']:>11}",
                flush=True,
            )


if __name__ == "__main__":
    main()
