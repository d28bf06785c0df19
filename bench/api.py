"""API load: N concurrent clients create batches and poll their status over HTTP while W worker
processes (``domainbatch worker``) process them; the API node runs ``serve --no-worker``.

    python -m bench.api [--clients 100] [--workers 4] [--domains 20] [--backend sqlite|pgbouncer]

Prints status-poll latency (p50/p90/p99/max), errors, and the database connections left open
after every process stopped (Postgres: ``pg_stat_activity``; PgBouncer: ``SHOW CLIENTS``).
Exits 1 on any error or leftover connection. Traffic stays on 127.0.0.1. Postgres and PgBouncer
are the harness's (``tests.support.databases``): under ``scripts/testenv.sh``, its PgBouncer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from tests.support import databases
from tests.support.processes import Process, child_env, domainbatch_argv, run_domainbatch, stop_all
from tests.support.servers import free_port, wait_for_url

DATABASE = "domainbatch_api_bench"
APP_NAME = "domainbatch-api-bench"


def database_url(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if backend == "pgbouncer":
        return databases.on_server(databases.pgbouncer_server(), DATABASE)
    return databases.on_server(databases.postgres_server(), DATABASE)


def environment(backend: str, workdir: Path) -> dict[str, str]:
    return child_env(
        clean=True,
        DOMAINBATCH_DATABASE_URL=database_url(backend, workdir),
        DOMAINBATCH_POOLER_MODE="transaction" if backend == "pgbouncer" else "direct",
        DOMAINBATCH_DB_APPLICATION_NAME=APP_NAME,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_DEFAULT_PROCESSOR="noop",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_DB_POOL_SIZE="10",
        DOMAINBATCH_DB_MAX_OVERFLOW="10",
        DOMAINBATCH_WORKER_PROCESSES="1",  # this bench counts worker processes itself
    )


def spawn(env: dict[str, str], workdir: Path, name: str, *args: str) -> Process:
    return Process(
        domainbatch_argv(*args), env=env, cwd=workdir, log=workdir / f"{name}.log"
    ).start()


async def client(
    http: aiohttp.ClientSession, base: str, n: int, domains: int, latencies: list[float]
) -> int:
    """One client: create a batch, poll it until it ends. Returns the errors it saw."""
    body = {"domains": [f"c{n}-d{i}.test" for i in range(domains)]}
    async with http.post(f"{base}/v1/batches", json=body) as response:
        if response.status != 201:
            return 1
        batch_id = (await response.json())["id"]
    errors = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        began = time.perf_counter()
        async with http.get(f"{base}/v1/batches/{batch_id}") as response:
            payload = await response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            errors += 1
        elif json.loads(payload)["status"] not in ("pending", "processing"):
            return errors
        await asyncio.sleep(0.1)
    return errors + 1


async def load(base: str, key: str, clients: int, domains: int) -> dict[str, Any]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        errors = await asyncio.gather(
            *(client(http, base, n, domains, latencies) for n in range(clients)),
            return_exceptions=True,
        )
    elapsed = time.perf_counter() - started
    failures = sum(e if isinstance(e, int) else 1 for e in errors)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "clients": clients,
        "batches": clients,
        "domains": clients * domains,
        "seconds": round(elapsed, 2),
        "status_requests": len(latencies),
        "errors": failures,
        "p50_ms": round(pct(0.50), 1),
        "p90_ms": round(pct(0.90), 1),
        "p99_ms": round(pct(0.99), 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else 0.0,
    }


def leftover_connections(backend: str) -> int | None:
    """Client connections still open to the bench database once every process stopped: in
    Postgres (direct), or in PgBouncer (whose own idle server links are its business)."""
    if backend == "sqlite":
        return None
    if backend == "pgbouncer":
        clients = databases.pgbouncer_show(databases.pgbouncer_server(), "CLIENTS")
        return sum(1 for row in clients if DATABASE in row)
    admin = databases.on_server(databases.postgres_server(), "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where application_name = %s", (APP_NAME,)
        ).fetchone()
    return int(row[0]) if row else 0


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Prepare the database, start the API node and the workers, load them, stop them."""
    env = environment(args.backend, workdir)
    run_domainbatch("db", "upgrade", env=env, cwd=workdir, check=True)
    created = run_domainbatch(
        "keys", "create", "--tenant", "bench", "--json", env=env, cwd=workdir, check=True
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = spawn(env, workdir, "server", "serve", "--no-worker", "--quiet", "--port", str(port))
    workers = [spawn(env, workdir, f"worker-{i}", "worker", "--quiet") for i in range(args.workers)]
    try:
        wait_for_url(f"{base}/readyz", timeout=20, process=server.proc)
        key = json.loads(created.stdout)["key"]
        report = asyncio.run(load(base, key, args.clients, args.domains))
    finally:
        codes = stop_all([p.proc for p in [server, *workers] if p.proc is not None], grace=60)
    report["backend"] = args.backend
    report["workers"] = args.workers
    report["clean_exits"] = all(code in (0, -signal.SIGTERM) for code in codes)
    report["connections_left_open"] = leftover_connections(args.backend)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "pgbouncer"], default="sqlite")
    args = parser.parse_args()
    direct = databases.on_server(databases.postgres_server(), DATABASE)
    if args.backend != "sqlite":
        databases.reset_database(direct)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = measure(args, Path(tmp))
    finally:
        if args.backend != "sqlite":
            databases.drop_database(direct)
    print(json.dumps(report, indent=2))
    bad = report["errors"] or not report["clean_exits"] or report["connections_left_open"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
