"""API load: N concurrent clients create batches and poll their status over HTTP while W worker
processes (``domainbatch worker``) process them; the API node runs ``serve --no-worker``.

    python -m bench.api [--clients 100] [--workers 4] [--domains 20] [--backend sqlite|pgbouncer]

Prints status-poll latency (p50/p90/p99/max), errors, and the database connections left open
after every process stopped (Postgres: ``pg_stat_activity``). Exits 1 on any error or leftover
connection. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psycopg

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "domainbatch_api_bench"
APP_NAME = "domainbatch-api-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def environment(backend: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINBATCH_")}
    if backend == "sqlite":
        url, mode = f"sqlite+aiosqlite:///{workdir / 'bench.db'}", "direct"
    else:
        port = 6432 if backend == "pgbouncer" else 5432
        url = f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}"
        mode = "transaction" if backend == "pgbouncer" else "direct"
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        DOMAINBATCH_DATABASE_URL=url,
        DOMAINBATCH_POOLER_MODE=mode,
        DOMAINBATCH_DB_APPLICATION_NAME=APP_NAME,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_DEFAULT_PROCESSOR="noop",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_DB_POOL_SIZE="10",
        DOMAINBATCH_DB_MAX_OVERFLOW="10",
    )
    return env


def domainbatch(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "domainbatch", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def spawn(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "domainbatch", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


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
        admin = ["psql", "-h", "127.0.0.1", "-p", "6432", "-U", "postgres", "-d", "pgbouncer"]
        shown = subprocess.run(
            [*admin, "-AtF", "|", "-c", "SHOW CLIENTS"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return sum(1 for line in shown.splitlines() if f"|{DATABASE}|" in line)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where application_name = %s", (APP_NAME,)
        ).fetchone()
    return int(row[0]) if row else 0


def prepare_postgres() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{DATABASE}" with (force)')
        conn.execute(f'create database "{DATABASE}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "pgbouncer"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = environment(args.backend, workdir)
        if args.backend != "sqlite":
            prepare_postgres()
        domainbatch(env, workdir, "db", "upgrade")
        key = json.loads(
            domainbatch(env, workdir, "keys", "create", "--tenant", "bench", "--json").stdout
        )["key"]
        port = free_port()
        server = spawn(env, workdir, "serve", "--no-worker", "--quiet", "--port", str(port))
        workers = [spawn(env, workdir, "worker", "--quiet") for _ in range(args.workers)]
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    time.sleep(0.1)
            report = asyncio.run(load(base, key, args.clients, args.domains))
        finally:
            for proc in [server, *workers]:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(60) for proc in [server, *workers]]
        report["backend"] = args.backend
        report["workers"] = args.workers
        report["clean_exits"] = all(code in (0, -signal.SIGTERM) for code in codes)
        report["connections_left_open"] = leftover_connections(args.backend)
    print(json.dumps(report, indent=2))
    bad = report["errors"] or not report["clean_exits"] or report["connections_left_open"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
