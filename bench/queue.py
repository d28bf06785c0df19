"""Queue overhead: the ``noop`` processor over N domains with 1, 2 and 4 worker processes, on
Postgres direct and through PgBouncer (transaction mode), beside PgQueuer (its own API, its
psycopg driver, the same Postgres, the same count of no-op jobs, the same process counts).

    python -m bench queue [--domains 100000] [--workers 1,2,4] [--rounds 3]
                          [--backends postgres,pgbouncer,pgqueuer[,sqlite]]

Rates are measured over the processing window (first claim to last acknowledgement: the batch's
``started_at``/``finished_at`` from the database clock; for PgQueuer, the first and last job
executions), so interpreter start-up is left out on both sides; wall times include it. Rounds
rotate the systems (the machine is shared: a neighbour's burst hits all of them) and each
figure is the median of its rounds.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``queue`` (which psycopg imports).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from typing import Any

from tests.support.processes import child_env, domainbatch_argv

from bench.common import (
    Part,
    drop_database,
    pg_url,
    reset_database,
    run_children,
)

PGQ_DB = os.environ.get("BENCH_PGQUEUER_DATABASE", "pgqueuer_bench")
SYSTEMS = {
    "postgres": "domainbatch, Postgres direct",
    "pgbouncer": "domainbatch, PgBouncer (transaction, pool 2)",
    "pgqueuer": "PgQueuer (psycopg driver), Postgres direct",
    "sqlite": "domainbatch, SQLite",
}


async def _create(url: str, n: int) -> tuple[str, float]:
    from domainbatch.runtime import Runtime
    from domainbatch.settings import Settings
    from domainbatch.storage import migrate

    rt = Runtime(Settings(database_url=url, pooler_mode="direct", extra_suffixes=["test"]))  # type: ignore[arg-type]
    try:
        await migrate.upgrade(rt.db)
        started = time.perf_counter()
        created = await rt.batches().create(
            (f"d{i}.bench.test" for i in range(n)), processor="noop"
        )
        return created.id, time.perf_counter() - started
    finally:
        await rt.close()


async def _window(url: str, batch_id: str) -> tuple[float, dict[str, int]]:
    from domainbatch.runtime import Runtime
    from domainbatch.settings import Settings

    rt = Runtime(Settings(database_url=url, pooler_mode="direct"))  # type: ignore[arg-type]
    try:
        status = await rt.batches().status(batch_id)
    finally:
        await rt.close()
    return float(status.finished_at) - float(status.started_at), status.counts


def run_domainbatch(
    backend: str, n: int, workers: int, concurrency: int, workdir: Path
) -> dict[str, Any]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'queue-{time.monotonic_ns()}.db'}"
        create_url, mode = url, "direct"
    else:
        create_url = reset_database()
        url = pg_url(bouncer=backend == "pgbouncer")
        mode = "transaction" if backend == "pgbouncer" else "direct"
    batch_id, create_s = asyncio.run(_create(create_url, n))
    env = child_env(
        DOMAINBATCH_DATABASE_URL=url,
        DOMAINBATCH_POOLER_MODE=mode,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_CONCURRENCY=str(concurrency),
        DOMAINBATCH_CLAIM_SIZE=str(min(concurrency, 500)),
        DOMAINBATCH_ACK_BATCH_SIZE=str(max(concurrency, 200)),
        DOMAINBATCH_WORKER_PROCESSES="1",  # ``workers`` processes, one worker each
    )
    command = domainbatch_argv("worker", "--burst", "--quiet")
    wall, peaks, cpu, _ = run_children([command] * workers, env)
    window, counts = asyncio.run(_window(create_url, batch_id))
    if counts.get("succeeded") != n:
        raise RuntimeError(f"{backend}: expected {n} succeeded, got {counts}")
    return {
        "system": backend,
        "workers": workers,
        "domains": n,
        "per_s": n / window,
        "wall_s": wall,
        "window_s": window,
        "create_per_s": n / create_s,
        "peak_rss_mb": max(peaks) / 2**20,
        "cpu_s": sum(cpu),
    }


def run_pgqueuer(n: int, workers: int, batch_size: int) -> dict[str, Any]:
    url = reset_database(PGQ_DB, migrate=False)
    env = child_env()
    enqueue = [sys.executable, "-m", "bench.pgq", "enqueue", url, str(n)]
    _, _, _, out = run_children([enqueue], env)
    create_s = json.loads(out[0].strip().splitlines()[-1])["seconds"]
    command = [sys.executable, "-m", "bench.pgq", "worker", url, str(batch_size)]
    wall, peaks, cpu, outputs = run_children([command] * workers, env)
    seen = [json.loads(o.strip().splitlines()[-1]) for o in outputs]
    done = sum(s["n"] for s in seen)
    if done != n:
        raise RuntimeError(f"PgQueuer ran {done} jobs, expected {n}")
    window = max(s["last"] for s in seen if s["n"]) - min(s["first"] for s in seen if s["n"])
    drop_database(PGQ_DB)
    return {
        "system": "pgqueuer",
        "workers": workers,
        "domains": n,
        "per_s": n / window,
        "wall_s": wall,
        "window_s": window,
        "create_per_s": n / create_s,
        "peak_rss_mb": max(peaks) / 2**20,
        "cpu_s": sum(cpu),
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["per_s"])
    mid = dict(ordered[len(ordered) // 2])
    mid["per_s_rounds"] = [round(r["per_s"]) for r in runs]
    mid["per_s"] = statistics.median(r["per_s"] for r in runs)
    return mid


def run(
    *,
    domains: int = 100_000,
    workers: tuple[int, ...] = (1, 2, 4),
    rounds: int = 3,
    backends: tuple[str, ...] = ("postgres", "pgbouncer", "pgqueuer"),
    concurrency: int = 200,
    pgq_batch: int = 200,
    log: Any = print,
) -> Part:
    results: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in workers:
            for r in range(rounds):
                order = list(backends[r % len(backends) :] + backends[: r % len(backends)])
                for system in order:
                    if system == "pgqueuer":
                        res = run_pgqueuer(domains, w, pgq_batch)
                    else:
                        res = run_domainbatch(system, domains, w, concurrency, Path(tmp))
                    results.setdefault((system, w), []).append(res)
                    log(
                        f"  queue: {system:9} {w} worker(s) round {r + 1}: "
                        f"{res['per_s']:,.0f}/s (wall {res['wall_s']:.1f} s)"
                    )
    part = Part(
        "Queue overhead (noop, processing window)",
        ["system", "workers", "domains", "jobs/s", "wall s", "CPU s (workers)", "peak RSS MB"],
    )
    medians = {key: _median(runs) for key, runs in results.items()}
    for (system, w), m in sorted(medians.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        part.rows.append(
            [
                SYSTEMS[system],
                w,
                m["domains"],
                m["per_s"],
                m["wall_s"],
                m["cpu_s"],
                m["peak_rss_mb"],
            ]
        )
    for w in workers:
        pg, bouncer, pgq = (medians.get((s, w)) for s in ("postgres", "pgbouncer", "pgqueuer"))
        if pg and pgq:
            part.check(f"queue {w}w: domainbatch / PgQueuer", pg["per_s"] / pgq["per_s"], ">=", 1.5)
        if pg and bouncer:
            part.check(
                f"queue {w}w: PgBouncer / direct", bouncer["per_s"] / pg["per_s"], ">=", 2 / 3
            )
    part.notes.append(
        f"median of {rounds} rotated round(s); concurrency {concurrency} per domainbatch worker "
        f"(claim {min(concurrency, 500)}, ack batch {max(concurrency, 200)}); PgQueuer "
        f"batch_size {pgq_batch}, drain mode. PgQueuer needs LISTEN/NOTIFY, so it cannot run "
        "through a transaction-mode pooler: it runs direct only."
    )
    part.raw = {
        "runs": {f"{s}/{w}": runs for (s, w), runs in results.items()},
        "params": {"domains": domains, "rounds": rounds, "concurrency": concurrency},
    }
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domains", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="postgres,pgbouncer,pgqueuer")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--pgq-batch", type=int, default=200, help="PgQueuer batch_size")


def from_args(args: argparse.Namespace) -> Part:
    return run(
        domains=args.domains,
        workers=tuple(int(w) for w in args.workers.split(",")),
        rounds=args.rounds,
        backends=tuple(args.backends.split(",")),
        concurrency=args.concurrency,
        pgq_batch=args.pgq_batch,
    )


if __name__ == "__main__":
    from bench.__main__ import main

    main(["queue", *sys.argv[1:]])
