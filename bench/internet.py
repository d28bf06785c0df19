"""Internet-like: N hosts of a simulated internet on loopback (bench/internet_sim.py: DNS
latency and failures, slow first bytes, hanging, refusing, TLS-failing, redirecting,
bot-walled and trickling hosts), its DNS and web servers in their own processes, and side by
side in one run:

- ``domainbatch``: ``domainbatch run`` (homepage processor, a fresh SQLite file) at its
  defaults (adaptive concurrency), then pinned at 200 and 500 with a matching
  ``HTTP_CONNECTION_LIMIT``;
- ``scrapy``: bench/scrapy_spider.py's spider at Scrapy's defaults and tuned for broad crawls;
- ``bare``: a bare aiohttp fetch-and-discard loop, 500 at once, the same timeouts (the
  latency-bound limit).

    python -m bench internet [--hosts 5000] [--clients default,c200,...] [--netns]

Per client: domains/s (hosts over the last completion), t50/t90/t99/t100 of completion, the
machine's busy % (every core, every process: the simulator and other work included), CPU ms
per domain of the client and of the simulator, and accuracy: the share of hosts whose reported
outcome is the simulation's ground truth. ``--netns`` runs it all in a new network namespace
(``unshare -rn``) where only loopback exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import internet_clients as clients
from bench.common import Part, percentile
from bench.internet_sim import Timing, ground_truth, host_names

FULL = Timing()
CLIENTS = ("default", "c200", "c500", "scrapy", "scrapy-tuned", "bare")
LABELS = {
    "default": "domainbatch run, defaults (adaptive concurrency)",
    "c200": "domainbatch run, concurrency 200",
    "c500": "domainbatch run, concurrency 500",
    "scrapy": "Scrapy, defaults (16 at once, retries)",
    "scrapy-tuned": "Scrapy, tuned (500 at once, broad crawl)",
    "bare": "bare aiohttp fetch+discard, 500 at once",
}


def run_one(name: str, sim: clients.Simulator, hosts_file: Path) -> clients.Run:
    if name == "default":
        return clients.run_product(sim, hosts_file, None)
    if name in ("c200", "c500"):
        return clients.run_product(sim, hosts_file, int(name[1:]))
    if name in ("scrapy", "scrapy-tuned"):
        return clients.run_scrapy(sim, hosts_file, "default" if name == "scrapy" else "tuned")
    return clients.run_bare(sim, hosts_file, 500)


def busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return total - idle, total


def measure(name: str, sim: clients.Simulator, hosts_file: Path) -> dict[str, Any]:
    sim_cpu, (busy0, total0) = sim.cpu_seconds(), busy_seconds()
    wall = time.perf_counter()
    run = run_one(name, sim, hosts_file)
    busy1, total1 = busy_seconds()
    return {
        "run": run,
        "wall_s": time.perf_counter() - wall,
        "sim_cpu_s": sim.cpu_seconds() - sim_cpu,
        "busy": (busy1 - busy0) / max(1e-9, total1 - total0),
    }


def score(truth: dict[str, str], run: clients.Run) -> tuple[float, Counter[tuple[str, str]]]:
    """Accuracy against the ground truth, and the mismatches (expected, reported)."""
    wrong: Counter[tuple[str, str]] = Counter()
    for domain, expected in truth.items():
        got = run.outcomes.get(domain, ("missing", 0.0))[0]
        if got != expected:
            wrong[(expected, got)] += 1
    return 1 - sum(wrong.values()) / len(truth), wrong


def run(
    *,
    hosts: int = 5000,
    clients_: tuple[str, ...] = CLIENTS,
    timing: Timing = FULL,
    log: Callable[[str], None] = print,
) -> Part:
    names = host_names(hosts)
    truth = ground_truth(names, timing)
    folder = Path(tempfile.mkdtemp(prefix="bench-internet-"))
    hosts_file = folder / "hosts.txt"
    hosts_file.write_text("".join(f"{n}\n" for n in names))
    sim = clients.start_simulator(folder, timing, hosts)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in clients_:
            results[name] = m = measure(name, sim, hosts_file)
            m["accuracy"], m["wrong"] = score(truth, m["run"])
            log(
                f"  internet: {name:12} {hosts / m['run'].seconds:,.0f}/s, "
                f"t100 {m['run'].seconds:.1f} s, accuracy {m['accuracy']:.1%}, "
                f"CPU {m['run'].cpu_s:.1f} s (simulator {m['sim_cpu_s']:.1f} s)"
            )
    finally:
        sim.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return table(hosts, truth, timing, results)


def compare(part: Part, hosts: int, results: dict[str, dict[str, Any]]) -> None:
    """Issue 16's bars, where the run has the clients they compare: the defaults against the
    best tuned run, the product against the bare loop (first 90% of hosts, and all) and
    against Scrapy tuned."""
    rate = {name: hosts / m["run"].seconds for name, m in results.items()}
    ours = [n for n in ("default", "c200", "c500") if n in rate]
    if not ours:
        return
    best = max(ours, key=lambda n: rate[n])
    if "default" in rate and best != "default":
        part.check("internet: defaults / best tuned", rate["default"] / rate[best], ">=", 0.85)
    if "bare" in rate:
        first90 = max(results[n]["first90"] for n in ours) / results["bare"]["first90"]
        part.check("internet: product / bare loop, first 90%", first90, ">=", 0.7)
        part.check(
            "internet: product / bare loop, whole batch", rate[best] / rate["bare"], ">=", 0.6
        )
    if "scrapy-tuned" in rate:
        part.check("internet: product / Scrapy tuned", rate[best] / rate["scrapy-tuned"], ">=", 3.0)


def table(
    hosts: int, truth: dict[str, str], timing: Timing, results: dict[str, dict[str, Any]]
) -> Part:
    part = Part(
        f"Internet-like ({hosts:,} simulated hosts on loopback)",
        [
            *("client", "domains/s", "domains/s, first 90%", "t50 s", "t90 s", "t99 s"),
            *("t100 s", "busy %"),
            *("CPU ms/domain", "simulator CPU ms/domain", "peak RSS MB", "accuracy %"),
        ],
    )
    for name, m in results.items():
        run_ = m["run"]
        times = [t for _, t in run_.outcomes.values()]
        m["first90"] = 0.9 * hosts / max(percentile(times, 0.9), 1e-9)
        part.rows.append(
            [
                LABELS[name],
                hosts / run_.seconds,
                m["first90"],
                *(percentile(times, f) for f in (0.5, 0.9, 0.99)),
                run_.seconds,
                m["busy"] * 100,
                run_.cpu_s * 1000 / hosts,
                m["sim_cpu_s"] * 1000 / hosts,
                run_.peak_rss / 2**20,
                m["accuracy"] * 100,
            ]
        )
        if name in ("default", "c200", "c500"):
            part.check(f"internet: accuracy of {LABELS[name]}", m["accuracy"], ">=", 0.99)
        if m["wrong"]:
            shown = ", ".join(f"{n} {e} as {g}" for (e, g), n in m["wrong"].most_common(4))
            part.notes.append(f"{LABELS[name]}: mismatches: {shown}")
    compare(part, hosts, results)
    counts = Counter(truth.values())
    part.notes.append("ground truth: " + ", ".join(f"{n:,} {c}" for c, n in counts.most_common()))
    if timing.scale != 1.0:
        part.notes.append(f"latencies x{timing.scale}, timeouts {timing.total_timeout:g} s")
    part.notes.append(
        "t50..t100: seconds from the client's start to that share of hosts done; busy %: "
        "the whole machine over the client's run (simulator and other work included); "
        "domainbatch's CPU is its whole process (start-up, SQLite, extraction processes)"
    )
    part.raw = {
        name: {
            "seconds": m["run"].seconds,
            "wall_s": m["wall_s"],
            "cpu_s": m["run"].cpu_s,
            "sim_cpu_s": m["sim_cpu_s"],
            "busy": m["busy"],
            "accuracy": m["accuracy"],
            "wrong": [[e, g, n] for (e, g), n in m["wrong"].items()],
        }
        for name, m in results.items()
    }
    return part


def enter_netns() -> None:
    """Re-run this command in a new network namespace holding only loopback (``unshare``)."""
    if os.environ.get("BENCH_NETNS") == "1":
        return
    argv = [a for a in sys.argv if a != "--netns"]
    script = 'ip link set lo up && exec "$@"'
    os.environ["BENCH_NETNS"] = "1"
    command = [sys.executable, "-m", "bench", *argv[1:]]
    os.execvp("unshare", ["unshare", "-rn", "sh", "-c", script, "sh", *command])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--scale", type=float, default=1.0, help="latencies and timeouts x")
    parser.add_argument("--netns", action="store_true", help="run in a loopback-only netns")


def from_args(args: argparse.Namespace) -> Part:
    if args.netns:
        enter_netns()
    return run(
        hosts=args.hosts,
        clients_=tuple(args.clients.split(",")),
        timing=Timing(15.0 * args.scale, args.scale),
    )
