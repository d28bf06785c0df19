"""Benchmark: domains/s for the homepage processor (fetch + guard + extract) against the local
test web, beside the bare fetch loop (plain aiohttp GET + read: no guard, no limits, no
extraction) as the ceiling on this machine.

    python bench/fetch.py [--requests 2000] [--concurrency 50] [--hosts 2000] [--scheme https]

The test web runs in its own process (``python -m tests.testweb``), so server and client each
get a core. Each request goes to a distinct virtual host (``s<i>.bench.test``), as a crawl
visits each domain once: every fetch pays for a new connection and, over https, a handshake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
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
    connector = aiohttp.TCPConnector(
        limit=args.concurrency * 2, resolver=StaticResolver(), ssl=context, use_dns_cache=False
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
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.testweb"],
        cwd=REPO,
        env=env,
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


async def main(args: argparse.Namespace) -> dict[str, Any]:
    server, web = start_testweb()
    try:
        context = ssl.create_default_context(cafile=web["ca_file"])
        settings = Settings(
            http_port=web["http_port"],
            https_port=web["https_port"],
            resolve_overrides={"*.test": "127.0.0.1"},
            allow_private_addresses=False,  # the guard on: override targets are trusted
            http_connection_limit=args.concurrency * 2,
        )
        if args.scheme == "http":
            # Aim https at a refusing port so every fetch falls back at once, like a
            # plain-http site.
            settings = settings.with_overrides(https_port=web["closed_port"])
        domains = [f"s{i % args.hosts}.bench.test" for i in range(args.requests)]
        bare = await bench_bare(domains, args, web, context)
        fetch = await bench_fetcher(domains, settings, args, context)
        home_s, home_ok, home_peak, extract_ms = await bench_homepage(
            domains, settings, args, context
        )
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)

    def rate(elapsed: float) -> float:
        return args.requests / elapsed

    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "hosts": args.hosts,
        "scheme": args.scheme,
        "bare": {"seconds": bare[0], "ok": bare[1], "per_s": rate(bare[0]), "peak_rss": bare[2]},
        "fetcher": {
            "seconds": fetch[0],
            "ok": fetch[1],
            "per_s": rate(fetch[0]),
            "peak_rss": fetch[2],
        },
        "homepage": {
            "seconds": home_s,
            "ok": home_ok,
            "per_s": rate(home_s),
            "peak_rss": home_peak,
            "extract_ms_median": statistics.median(extract_ms) if extract_ms else None,
        },
        "ratio_homepage_to_bare": rate(home_s) / rate(bare[0]),
        "ratio_fetcher_to_bare": rate(fetch[0]) / rate(bare[0]),
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def report(result: dict[str, Any]) -> None:
    mib = 1024 * 1024
    print(
        f"{result['requests']} requests over {result['scheme']}, concurrency "
        f"{result['concurrency']}, {result['hosts']} virtual hosts"
    )
    rows = [
        ("bare aiohttp GET+read (limit)", result["bare"]),
        ("Fetcher (guard, limits, no extract)", result["fetcher"]),
        ("homepage processor (fetch+extract)", result["homepage"]),
    ]
    for name, row in rows:
        print(
            f"  {name:38} {row['per_s']:8.1f} domains/s  ({row['seconds']:.2f} s, "
            f"{row['ok']} ok, peak RSS {row['peak_rss'] / mib:.0f} MiB)"
        )
    print(f"  homepage / bare ratio: {result['ratio_homepage_to_bare']:.2f}")
    print(f"  fetcher / bare ratio:  {result['ratio_fetcher_to_bare']:.2f}")
    median = result["homepage"]["extract_ms_median"]
    if median is not None:
        print(f"  median extract time: {median:.2f} ms per page")
    print(f"  peak RSS of the process: {result['max_rss'] / mib:.0f} MiB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=2000, help="distinct virtual hosts")
    parser.add_argument("--scheme", choices=("https", "http"), default="https")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    figures = asyncio.run(main(arguments))
    if arguments.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
