"""The simulated internet's processes and the clients run against it, each in its own process:
domainbatch (``domainbatch run`` on a fresh SQLite file), Scrapy (bench/internet_scrapy.py)
and the bare aiohttp loop (bench/internet_bare.py). Every client returns the same thing: each
host's outcome class and completion time (seconds from its start), its CPU seconds and peak
RSS."""

from __future__ import annotations

import ipaddress
import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
from tests.support.processes import child_env, die_with_parent, domainbatch_argv
from tests.support.servers import free_port

from bench.common import Watch
from bench.internet_sim import Timing, in_zone


@dataclass
class Simulator:
    folder: Path
    timing: Timing
    dns_port: int
    http_port: int
    https_port: int
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def ca_file(self) -> str:
        return str(self.folder / "ca.pem")

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def cpu_seconds(self) -> float:
        """CPU seconds the simulator's processes (DNS, web) have used so far."""
        total = 0.0
        for proc in self.processes:
            times = psutil.Process(proc.pid).cpu_times()
            total += times.user + times.system
        return total

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The process's first line of output, or "" when none comes within ``timeout``."""
    line: list[str] = []
    stream = proc.stdout
    assert stream is not None
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


def start_simulator(folder: Path, timing: Timing, hosts: int) -> Simulator:
    """The DNS server and the web servers, each in its own process; ready when this returns."""
    sim = Simulator(folder, timing, free_port(), free_port(), free_port())
    scaled = ["--scale", str(timing.scale), "--total-timeout", str(timing.total_timeout)]
    commands = [
        [sys.executable, "-m", "bench.internet_dns", "--port", str(sim.dns_port), *scaled],
        [
            *(sys.executable, "-m", "bench.internet_web", "--folder", str(folder)),
            *("--http-port", str(sim.http_port), "--https-port", str(sim.https_port), *scaled),
            *("--hosts", str(hosts)),
        ],
    ]
    for command in commands:
        # Its log in a file: an unread pipe would fill with asyncio's complaints about
        # clients that hung up, and stop the server.
        log = folder / f"{command[2]}.log"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                command,
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                preexec_fn=die_with_parent,
            )
        sim.processes.append(proc)
        if first_line(proc, 120) != "ready":
            sim.stop()
            raise RuntimeError(f"{command[2]} did not start: {log.read_text()[-2000:]}")
    return sim


@dataclass
class Run:
    seconds: float  # the last completion, from the client's start
    cpu_s: float
    peak_rss: int
    outcomes: dict[str, tuple[str, float]]  # domain -> (class, completion seconds)


def read_outcomes(path: Path) -> dict[str, tuple[str, float]]:
    outcomes: dict[str, tuple[str, float]] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        outcomes[row["domain"]] = (row["outcome"], row["t"])
    return outcomes


def run_script(module: str, args: list[str], outcomes: Path) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed: {proc.stderr[-3000:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    found = read_outcomes(outcomes)
    last = max((t for _, t in found.values()), default=summary["seconds"])
    return Run(last, summary["cpu_s"], summary["peak_rss"], found)


def sim_args(sim: Simulator, hosts_file: Path, outcomes: Path) -> list[str]:
    timeouts = ["--dns-timeout", str(dns_timeout(sim.timing))]
    timeouts += ["--total-timeout", str(sim.timing.total_timeout)]
    return [
        *(str(hosts_file), str(outcomes), "--nameserver", sim.nameserver),
        *("--http-port", str(sim.http_port), "--https-port", str(sim.https_port), *timeouts),
    ]


def dns_timeout(timing: Timing) -> float:
    return timing.total_timeout / 3  # domainbatch's defaults: 5 s against 15 s


def run_bare(sim: Simulator, hosts_file: Path, concurrency: int) -> Run:
    outcomes = sim.folder / "bare.jsonl"
    connect = ["--connect-timeout", str(dns_timeout(sim.timing)), "--ca-file", sim.ca_file]
    args = [*sim_args(sim, hosts_file, outcomes), *connect, "--concurrency", str(concurrency)]
    return run_script("bench.internet_bare", args, outcomes)


def run_scrapy(sim: Simulator, hosts_file: Path, preset: str) -> Run:
    outcomes = sim.folder / f"scrapy-{preset}.jsonl"
    args = [*sim_args(sim, hosts_file, outcomes), "--preset", preset]
    return run_script("bench.internet_scrapy", args, outcomes)


def product_env(sim: Simulator, database: Path, concurrency: int | None) -> dict[str, str]:
    """domainbatch aimed at the simulator: its nameserver, ports and CA. The SSRF guard is off
    because every simulated name resolves, through that nameserver, to loopback (the DNS
    server asserts it); ``resolve_overrides`` would trust loopback with the guard on, but it
    skips DNS altogether, and DNS is half of what is simulated."""
    env = child_env(
        clean=True,
        DOMAINBATCH_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        DOMAINBATCH_NAMESERVERS=sim.nameserver,
        DOMAINBATCH_HTTP_PORT=str(sim.http_port),
        DOMAINBATCH_HTTPS_PORT=str(sim.https_port),
        DOMAINBATCH_EXTRA_SUFFIXES="test",
        DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES="true",
        SSL_CERT_FILE=sim.ca_file,
    )
    if concurrency is not None:
        env["DOMAINBATCH_CONCURRENCY"] = str(concurrency)
        env["DOMAINBATCH_HTTP_CONNECTION_LIMIT"] = str(concurrency)
    if sim.timing.scale != 1.0:  # a scaled-down internet: every bound scaled alike
        env["DOMAINBATCH_TOTAL_TIMEOUT"] = str(sim.timing.total_timeout)
        env["DOMAINBATCH_DNS_TIMEOUT"] = str(dns_timeout(sim.timing))
        env["DOMAINBATCH_CONNECT_TIMEOUT"] = str(dns_timeout(sim.timing))
        env["DOMAINBATCH_RETRY_BASE_SECONDS"] = str(2.0 * sim.timing.scale)
    return env


def product_outcome(status: str, error_code: str | None, result: dict[str, Any] | None) -> str:
    if status != "succeeded":
        return error_code or status
    return "succeeded_over_http" if result and result.get("https_error") else "succeeded"


def check_loopback(domain: str, result: dict[str, Any]) -> None:
    """Every address the product connected to, every redirect it followed: the simulation's."""
    address = result.get("remote_address")
    if address and not ipaddress.ip_address(address).is_loopback:
        raise AssertionError(f"{domain} was fetched from {address}: not loopback")
    for hop in result.get("redirects") or []:
        target = urlsplit(hop["location"]).hostname or ""
        if not in_zone(target):
            raise AssertionError(f"{domain} redirected off the simulation: {hop['location']}")


def remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):  # SQLite's write-ahead log and its index too
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def run_product(sim: Simulator, hosts_file: Path, concurrency: int | None) -> Run:
    database = sim.folder / f"domainbatch-{concurrency or 'default'}.db"
    remove_database(database)
    proc = subprocess.Popen(
        domainbatch_argv("run", str(hosts_file), "-p", "homepage", "--json"),
        env=product_env(sim, database, concurrency),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    with Watch([proc.pid]) as watch:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"domainbatch run failed ({proc.returncode}): {err[-3000:]}")
    with sqlite3.connect(database) as conn:
        (started,) = conn.execute("select started_at from batches").fetchone()
        rows = conn.execute(
            "select domain, status, error_code, result, finished_at from batch_domains"
        ).fetchall()
    outcomes: dict[str, tuple[str, float]] = {}
    for domain, status, code, raw, finished in rows:
        result = json.loads(raw) if raw else None
        if result:
            check_loopback(domain, result)
        outcomes[domain] = (product_outcome(status, code, result), finished - started)
    last = max(t for _, t in outcomes.values())
    remove_database(database)
    return Run(last, watch.cpu[0], watch.peak[0], outcomes)
