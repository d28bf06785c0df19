"""Benchmark: domains/s for the homepage processor (fetch + guard + extract) against the local
test web, beside the bare fetch loop (plain aiohttp GET + read: no guard, no limits, no
extraction) as the ceiling on this machine.

    python bench/fetch.py [--requests 2000] [--concurrency 50] [--hosts 2000]
                          [--scheme https|http] [--rounds 3] [--json]

The test web runs in its own process (``python -m tests.testweb``), so server and client each
get a core; each mode runs in a fresh child process, so its peak RSS is its own, and rounds
rotate the modes and report the median (shared machines are noisy). Each request goes to a
distinct virtual host (``s<i>.bench.test``), as a crawl visits each domain once: every fetch
pays for a new connection and, over https, a handshake.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and bench/queue.py would shadow the
# standard library's ``queue`` (which concurrent.futures imports).
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import resource
import socket
import ssl
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import psutil
from aiohttp.abc import AbstractResolver, ResolveResult

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from domainbatch.fetching.http import Fetcher  # noqa: E402
from domainbatch.processors.homepage import build  # noqa: E402
from domainbatch.settings import Settings  # noqa: E402


class StaticResolver(AbstractResolver):
    """Everything is 127.0.0.1: the cheapest possible resolution, for the bare loop."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


class RssSampler:
    """Peak resident memory of this process while a phase runs (sampled every 20 ms)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self.peak = self.process.memory_info().rss
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, self.process.memory_info().rss)


async def run_pool(
    domains: list[str], concurrency: int, one: Callable[[str], Awaitable[bool]]
) -> tuple[float, int, int]:
    """(seconds, successes, peak RSS bytes) for ``one`` over ``domains`` with N workers."""
    queue = iter(domains)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for domain in queue:
            if await one(domain):
                ok += 1

    with RssSampler() as rss:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, ok, rss.peak


async def bench_bare(
    domains: list[str], args: argparse.Namespace, web: dict[str, Any], context: ssl.SSLContext
) -> tuple[float, int, int]:
    port = web["https_port"] if args.scheme == "https" else web["http_port"]
    # Same connection policy as the Fetcher (no idle keep-alive pool: each host is visited
    # once), so the ratio measures guard, resolver, limits and redirect handling.
    connector = aiohttp.TCPConnector(
        limit=args.concurrency * 2,
        resolver=StaticResolver(),
        ssl=context,
        use_dns_cache=False,
        force_close=True,
    )
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(domain: str) -> bool:
            try:
                async with session.get(f"{args.scheme}://{domain}:{port}/") as response:
                    body = await response.read()
                    return response.status == 200 and len(body) > 0
            except (aiohttp.ClientError, OSError):
                return False

        await run_pool(domains[: args.concurrency], args.concurrency, one)  # warm-up
        return await run_pool(domains, args.concurrency, one)


async def bench_fetcher(
    domains: list[str], settings: Settings, args: argparse.Namespace, context: ssl.SSLContext
) -> tuple[float, int, int]:
    async with Fetcher(settings, ssl_context=context) as fetcher:

        async def one(domain: str) -> bool:
            try:
                await fetcher.fetch(domain)
                return True
            except Exception:
                return False

        await run_pool(domains[: args.concurrency], args.concurrency, one)
        return await run_pool(domains, args.concurrency, one)


async def bench_homepage(
    domains: list[str], settings: Settings, args: argparse.Namespace, context: ssl.SSLContext
) -> tuple[float, int, int, list[float]]:
    extract_ms: list[float] = []
    async with build(settings, ssl_context=context) as processor:

        async def one(domain: str) -> bool:
            try:
                record = await processor(domain, {})
            except Exception:
                return False
            extract_ms.append(record["timings"]["extract_ms"])
            return bool(record["extracted"]["title"])

        await run_pool(domains[: args.concurrency], args.concurrency, one)
        extract_ms.clear()
        elapsed, ok, peak = await run_pool(domains, args.concurrency, one)
        return elapsed, ok, peak, extract_ms


def start_testweb() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.testweb"],
        cwd=REPO,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line:
        server.kill()
        raise SystemExit("the test web did not start")
    return server, json.loads(line)


def _env() -> dict[str, str]:
    paths = [str(REPO), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


async def run_mode(mode: str, args: argparse.Namespace, web: dict[str, Any]) -> dict[str, Any]:
    """One mode, in this process (the parent runs each mode in a fresh child)."""
    context = ssl.create_default_context(cafile=web["ca_file"])
    settings = Settings(
        http_port=web["http_port"],
        # Over "http", https is aimed at a refusing port: every fetch falls back at once,
        # like a plain-http site.
        https_port=web["https_port"] if args.scheme == "https" else web["closed_port"],
        resolve_overrides={"*.test": "127.0.0.1"},
        allow_private_addresses=False,  # the guard on: override targets are trusted
        http_connection_limit=args.concurrency * 2,
    )
    domains = [f"s{i % args.hosts}.bench.test" for i in range(args.requests)]
    extract_ms: list[float] = []
    if mode == "bare":
        elapsed, ok, peak = await bench_bare(domains, args, web, context)
    elif mode == "fetcher":
        elapsed, ok, peak = await bench_fetcher(domains, settings, args, context)
    else:
        elapsed, ok, peak, extract_ms = await bench_homepage(domains, settings, args, context)
    return {
        "seconds": elapsed,
        "ok": ok,
        "per_s": args.requests / elapsed,
        "peak_rss": max(peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        "extract_ms_median": statistics.median(extract_ms) if extract_ms else None,
    }


def main(args: argparse.Namespace) -> dict[str, Any]:
    server, web = start_testweb()
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "fetcher": [], "homepage": []}
    try:
        # Rounds rotate the modes, so a noisy neighbour on a shared machine hits all of them.
        for _ in range(args.rounds):
            for mode in runs:
                runs[mode].append(_child(mode, web))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    results = {mode: _median_run(mode_runs) for mode, mode_runs in runs.items()}
    bare = results["bare"]["per_s"]
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "hosts": args.hosts,
        "scheme": args.scheme,
        "rounds": args.rounds,
        **results,
        "ratio_homepage_to_bare": results["homepage"]["per_s"] / bare,
        "ratio_fetcher_to_bare": results["fetcher"]["per_s"] / bare,
    }


def _child(mode: str, web: dict[str, Any]) -> dict[str, Any]:
    """One mode in a fresh process: peak RSS is then that mode's own."""
    child = subprocess.run(
        [sys.executable, __file__, *sys.argv[1:], "--child", mode, "--web", json.dumps(web)],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{child.stderr}")
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def _median_run(mode_runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(mode_runs, key=lambda run: run["per_s"])
    median = dict(ordered[len(ordered) // 2])
    median["per_s_all"] = [round(run["per_s"], 1) for run in mode_runs]
    median["peak_rss"] = max(run["peak_rss"] for run in mode_runs)
    return median


def report(result: dict[str, Any]) -> None:
    mib = 1024 * 1024
    print(
        f"{result['requests']} requests over {result['scheme']}, concurrency "
        f"{result['concurrency']}, {result['hosts']} virtual hosts, median of "
        f"{result['rounds']} rounds"
    )
    rows = [
        ("bare aiohttp GET+read (limit)", result["bare"]),
        ("Fetcher (guard, limits, no extract)", result["fetcher"]),
        ("homepage processor (fetch+extract)", result["homepage"]),
    ]
    for name, row in rows:
        print(
            f"  {name:38} {row['per_s']:8.1f} domains/s  ({row['seconds']:.2f} s, "
            f"{row['ok']} ok, peak RSS {row['peak_rss'] / mib:.0f} MiB; "
            f"rounds: {', '.join(map(str, row['per_s_all']))})"
        )
    print(f"  homepage / bare ratio: {result['ratio_homepage_to_bare']:.2f}")
    print(f"  fetcher / bare ratio:  {result['ratio_fetcher_to_bare']:.2f}")
    median = result["homepage"]["extract_ms_median"]
    if median is not None:
        print(f"  median extract time: {median:.2f} ms per page (in the extraction thread)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=2000, help="distinct virtual hosts")
    parser.add_argument("--scheme", choices=("https", "http"), default="https")
    parser.add_argument("--rounds", type=int, default=3, help="median of N rotated rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", choices=("bare", "fetcher", "homepage"), help=argparse.SUPPRESS)
    parser.add_argument("--web", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        figures = asyncio.run(run_mode(arguments.child, arguments, json.loads(arguments.web)))
        print(json.dumps(figures))
        raise SystemExit(0)
    figures = main(arguments)
    if arguments.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
