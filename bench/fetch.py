"""Fetch + extract: N distinct ``*.bench.test`` homepages served by a local nginx (bench/web.py),
names mapped to 127.0.0.1 by each client's resolver override, fetched by:

- ``bare``: a bare aiohttp loop that fetches and discards (the limit: no guard, no limits, no
  redirect handling, no extraction);
- ``fetcher``: domainbatch's fetch alone (resolve, guard, limits, redirects; no extraction),
  to tell fetching from extraction;
- ``homepage``: domainbatch's ``homepage`` processor (resolve, SSRF guard, bounded fetch,
  full extraction in its extraction processes, one per core) in a loop of N concurrent tasks;
- ``thread``: the same with ``EXTRACT_PROCESSES=0`` (extraction in one thread: one core, as
  the Scrapy spider), for information;
- ``scrapy``: a Scrapy spider fetching the same URLs and extracting title, description,
  emails and links with its own selectors (bench/scrapy_spider.py);
- ``worker``: the whole product, for information: ``domainbatch worker`` with the homepage
  processor on a batch in Postgres (claims, acks, results stored).

    python -m bench fetch [--domains 10000] [--concurrency 50] [--schemes http,https]
                          [--rounds 3] [--modes bare,homepage,scrapy,worker]

Every mode runs in a fresh process at the same concurrency, each domain once (a new
connection per domain, as a crawl does); rounds rotate the modes and report the median. CPU
seconds are the client's (every thread, and its extraction processes) over the fetching
phase, per 1,000 domains; peak RSS is the client's, its extraction processes' added. Over
``http``, domainbatch still tries https first (the README's order): its https port is a closed
one, so each domain pays one refused connect, like a plain-http site.
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
import socket
import ssl
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.support.processes import child_env, domainbatch_argv

from bench.common import Part, reset_database, self_cpu_seconds, self_peak_rss

MODES = ("bare", "fetcher", "homepage", "thread", "scrapy", "worker")
LABELS = {
    "bare": "bare aiohttp fetch+discard (limit)",
    "fetcher": "domainbatch fetch only (no extraction)",
    "homepage": "domainbatch homepage processor",
    "thread": "domainbatch homepage, EXTRACT_PROCESSES=0",
    "scrapy": "Scrapy spider (same fields)",
    "worker": "domainbatch worker end to end (Postgres)",
}


def domains_for(n: int) -> list[str]:
    return [f"s{i}.bench.test" for i in range(n)]


async def pool(
    domains: list[str], concurrency: int, one: Callable[[str], Awaitable[bool]]
) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, successes) for ``one`` over ``domains`` with N tasks."""
    source = iter(domains)
    ok = 0

    async def task() -> None:
        nonlocal ok
        for domain in source:
            if await one(domain):
                ok += 1

    cpu0, started = self_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(task() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    peak = self_peak_rss()  # now, while extraction processes still run
    return seconds, self_cpu_seconds() - cpu0, ok, peak


async def mode_bare(domains: list[str], scheme: str, web: dict[str, Any], c: int) -> Any:
    import aiohttp
    from aiohttp.abc import AbstractResolver, ResolveResult

    class Loopback(AbstractResolver):
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

    context = ssl.create_default_context(cafile=web["ca_file"])
    port = web["https_port"] if scheme == "https" else web["http_port"]
    connector = aiohttp.TCPConnector(
        limit=c * 2, resolver=Loopback(), ssl=context, use_dns_cache=False, force_close=True
    )
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(domain: str) -> bool:
            try:
                async with session.get(f"{scheme}://{domain}:{port}/") as response:
                    body = await response.read()
                    return response.status == 200 and len(body) > 0
            except (aiohttp.ClientError, OSError):
                return False

        return await pool(domains, c, one)


async def mode_homepage(
    domains: list[str], scheme: str, web: dict[str, Any], c: int, **settings_: Any
) -> Any:
    from domainbatch.processors.homepage import build

    settings = _settings(scheme, web, c, **settings_)
    context = ssl.create_default_context(cafile=web["ca_file"])
    async with build(settings, ssl_context=context) as processor:

        async def one(domain: str) -> bool:
            try:
                record = await processor(domain, {})
            except Exception:
                return False
            return record["status_code"] == 200

        return await pool(domains, c, one)


async def mode_fetcher(domains: list[str], scheme: str, web: dict[str, Any], c: int) -> Any:
    from domainbatch.fetching.http import Fetcher

    settings = _settings(scheme, web, c)
    context = ssl.create_default_context(cafile=web["ca_file"])
    async with Fetcher(settings, ssl_context=context) as fetcher:

        async def one(domain: str) -> bool:
            try:
                return (await fetcher.visit(domain)).page.status == 200
            except Exception:
                return False

        return await pool(domains, c, one)


async def mode_thread(domains: list[str], scheme: str, web: dict[str, Any], c: int) -> Any:
    return await mode_homepage(domains, scheme, web, c, extract_processes=0)


def _settings(scheme: str, web: dict[str, Any], c: int, **extra: Any) -> Any:
    from domainbatch.settings import Settings

    return Settings(
        http_port=web["http_port"],
        https_port=web["https_port"] if scheme == "https" else web["closed_port"],
        resolve_overrides={"*.bench.test": "127.0.0.1"},
        allow_private_addresses=False,  # the guard stays on: override targets are trusted
        http_connection_limit=c * 2,
        **extra,
    )


def run_child(mode: str, domains: int, scheme: str, web: dict[str, Any], c: int) -> dict[str, Any]:
    """One in-process mode in a fresh interpreter (its peak RSS is its own and its children's)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fetch",
            "--child",
            mode,
            "--domains",
            str(domains),
            "--schemes",
            scheme,
            "--concurrency",
            str(c),
            "--web",
            json.dumps(web),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"fetch {mode} failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_scrapy(domains: int, scheme: str, web: dict[str, Any], c: int, tmp: Path) -> dict[str, Any]:
    port = web["https_port"] if scheme == "https" else web["http_port"]
    urls = tmp / f"urls-{scheme}.txt"
    urls.write_text("".join(f"{scheme}://{d}:{port}/\n" for d in domains_for(domains)))
    proc = subprocess.run(
        [sys.executable, "-m", "bench.scrapy_spider", str(urls), str(c)],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scrapy failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "seconds": out["seconds"],
        "cpu_s": out["cpu_s"],
        "ok": out["items"],
        "peak_rss": out["peak_rss"],
    }


def run_worker(domains: int, scheme: str, web: dict[str, Any], c: int) -> dict[str, Any]:
    """``domainbatch worker --burst`` with the homepage processor on a Postgres batch."""
    from bench.common import Watch

    url = reset_database()
    env = child_env(
        DOMAINBATCH_DATABASE_URL=url,
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_HTTP_PORT=str(web["http_port"]),
        DOMAINBATCH_HTTPS_PORT=str(web["https_port"] if scheme == "https" else web["closed_port"]),
        DOMAINBATCH_RESOLVE_OVERRIDES='{"*.bench.test": "127.0.0.1"}',
        DOMAINBATCH_CONCURRENCY=str(c),
        DOMAINBATCH_HTTP_CONNECTION_LIMIT=str(c * 2),
        DOMAINBATCH_WORKER_PROCESSES="1",  # one worker against the other single-loop modes
        SSL_CERT_FILE=web["ca_file"],
    )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{d}\n" for d in domains_for(domains)))
    subprocess.run(
        domainbatch_argv("submit", handle.name, "-p", "homepage", "--json"),
        env=env,
        check=True,
        capture_output=True,
    )
    Path(handle.name).unlink()
    proc = subprocess.Popen(
        domainbatch_argv("worker", "--burst", "--quiet"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with Watch([proc.pid]) as watch:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed: {err.decode()[-2000:]}")
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select finished_at - started_at, (select coalesce(sum(n), 0) from batch_counts"
            " where status = 'succeeded') from batches"
        ).fetchone()
    assert row is not None
    return {
        "seconds": float(row[0]),
        "cpu_s": watch.cpu[0],
        "ok": int(row[1]),
        "peak_rss": watch.peak[0],
        "cpu_note": "whole process, start-up included",
    }


def run(
    *,
    domains: int = 10_000,
    concurrency: int = 50,
    schemes: tuple[str, ...] = ("http", "https"),
    rounds: int = 3,
    modes: tuple[str, ...] = MODES,
    log: Any = print,
) -> Part:
    from bench import web as webmod

    server = webmod.start(domains)
    web = server.as_dict()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for scheme in schemes:
                for r in range(rounds):
                    order = list(modes[r % len(modes) :] + modes[: r % len(modes)])
                    for mode in order:
                        if mode == "scrapy":
                            res = run_scrapy(domains, scheme, web, concurrency, Path(tmp))
                        elif mode == "worker":
                            res = run_worker(domains, scheme, web, concurrency)
                        else:
                            res = run_child(mode, domains, scheme, web, concurrency)
                        res["per_s"] = domains / res["seconds"]
                        results.setdefault((scheme, mode), []).append(res)
                        log(
                            f"  fetch: {scheme:5} {mode:8} round {r + 1}: {res['per_s']:,.0f}/s, "
                            f"{res['ok']:,} ok, CPU {res['cpu_s']:.1f} s"
                        )
    finally:
        server.stop()
    mean_page = sum(server.page_bytes) / len(server.page_bytes)
    part = Part(
        f"Fetch + extract ({domains:,} homepages from nginx, concurrency {concurrency})",
        ["scheme", "client", "domains/s", "ok", "CPU s / 1k domains", "peak RSS MB", "x bare"],
    )
    medians: dict[tuple[str, str], dict[str, Any]] = {}
    for key, runs in results.items():
        ordered = sorted(runs, key=lambda run: run["per_s"])
        m = dict(ordered[len(ordered) // 2])
        m["per_s"] = statistics.median(run["per_s"] for run in runs)
        m["per_s_rounds"] = [round(run["per_s"], 1) for run in runs]
        medians[key] = m
    for scheme in schemes:
        bare = medians.get((scheme, "bare"))
        for mode in modes:
            m = medians.get((scheme, mode))
            if m is None:
                continue
            part.rows.append(
                [
                    scheme,
                    LABELS[mode],
                    m["per_s"],
                    m["ok"],
                    m["cpu_s"] / domains * 1000,
                    m["peak_rss"] / 2**20,
                    m["per_s"] / bare["per_s"] if bare else None,
                ]
            )
        home, scrapy = medians.get((scheme, "homepage")), medians.get((scheme, "scrapy"))
        if home and scrapy:
            part.check(
                f"fetch {scheme}: homepage / Scrapy", home["per_s"] / scrapy["per_s"], ">=", 3
            )
        if home and bare:
            part.check(
                f"fetch {scheme}: homepage / bare loop", home["per_s"] / bare["per_s"], ">=", 0.6
            )
        thread = medians.get((scheme, "thread"))
        if thread and scrapy:
            part.notes.append(
                f"{scheme}: domainbatch homepage with EXTRACT_PROCESSES=0 / Scrapy = "
                f"{thread['per_s'] / scrapy['per_s']:.2f} (information: one core each)"
            )
        worker = medians.get((scheme, "worker"))
        if worker and scrapy:
            part.notes.append(
                f"{scheme}: domainbatch worker end to end / Scrapy = "
                f"{worker['per_s'] / scrapy['per_s']:.2f} (information: the worker also stores "
                "every result in Postgres; Scrapy discards its items)"
            )
    part.notes.append(
        f"{len(server.pages)} distinct pages (mean {mean_page / 1000:.0f} KB) "
        f"from {'Debian documentation' if '/usr/share/doc' in server.pages[0] else 'fixtures'}; "
        f"median of {rounds} rotated round(s); Scrapy does not verify certificates (its "
        "default), the others do"
    )
    part.raw = {
        "runs": {f"{s}/{m}": runs for (s, m), runs in results.items()},
        "pages": server.pages,
        "page_bytes": server.page_bytes,
    }
    return part


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--schemes", default="http,https")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))


def from_args(args: argparse.Namespace) -> Part:
    return run(
        domains=args.domains,
        concurrency=args.concurrency,
        schemes=tuple(args.schemes.split(",")),
        rounds=args.rounds,
        modes=tuple(args.modes.split(",")),
    )


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--child", required=True)
    parser.add_argument("--web", required=True)
    args = parser.parse_args(argv)
    web = json.loads(args.web)
    domains = domains_for(args.domains)
    runner = {
        "bare": mode_bare,
        "fetcher": mode_fetcher,
        "homepage": mode_homepage,
        "thread": mode_thread,
    }[args.child]
    seconds, cpu, ok, peak = asyncio.run(runner(domains, args.schemes, web, args.concurrency))
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "ok": ok, "peak_rss": peak}))


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        from bench.__main__ import main

        main(["fetch", *sys.argv[1:]])
