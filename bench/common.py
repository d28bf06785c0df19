"""What the bench parts share beyond the harness's (``tests.support``: servers, databases,
processes): the bench databases, child processes' peak RSS and CPU time, percentiles, and the
result rows every part returns."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil
from tests.support import databases
from tests.support.processes import REPO, peak_rss_bytes

RESULTS = REPO / "bench" / "results"

BENCH_DB = os.environ.get("BENCH_DATABASE", "domainbatch_bench")
# The harness's servers: under scripts/testenv.sh, the PgBouncer it started on a free port.
PG_SERVER = databases.postgres_server()
BOUNCER_SERVER = databases.pgbouncer_server()


def pg_url(database: str | None = None, *, bouncer: bool = False) -> str:
    return databases.on_server(BOUNCER_SERVER if bouncer else PG_SERVER, database or BENCH_DB)


def reset_database(database: str | None = None, *, migrate: bool = True) -> str:
    """Drop and re-create a bench database (and apply domainbatch's migrations)."""
    url = databases.reset_database(pg_url(database))
    if migrate:
        databases.upgrade_database(url)
    return url


def drop_database(database: str | None = None) -> None:
    databases.drop_database(pg_url(database))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), int(fraction * len(ordered) + 0.999999)))
    return ordered[rank - 1]


def self_cpu_seconds() -> float:
    """CPU seconds (user + system) this process and its live child processes (extraction
    processes) have used so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
    return total


def self_peak_rss() -> int:
    """Peak resident set size in bytes of this process plus its live child processes: each
    one's ``VmHWM``, the high-water mark of its own memory (``ru_maxrss`` would also count
    the parent's pages at fork). Call it while the children still run."""
    own = peak_rss_bytes() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return own + sum(peak_rss_bytes(child.pid) for child in psutil.Process().children(True))


class Watch:
    """Samples the RSS and CPU time of some processes, each with its child processes (summed),
    in a thread."""

    def __init__(self, pids: list[int], interval: float = 0.05) -> None:
        self.handles = [psutil.Process(pid) for pid in pids]
        self.peak = [0] * len(pids)
        self.cpu = [0.0] * len(pids)
        self.samples: list[tuple[float, list[int]]] = []
        self._cpu: list[dict[int, float]] = [{} for _ in pids]
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        now = []
        for i, handle in enumerate(self.handles):
            rss = 0
            with contextlib.suppress(psutil.Error):
                for process in [handle, *handle.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss += process.memory_info().rss
                        times = process.cpu_times()
                        # Per process, so a child that exited keeps its last figure.
                        self._cpu[i][process.pid] = times.user + times.system
                self.cpu[i] = sum(self._cpu[i].values())
            self.peak[i] = max(self.peak[i], rss)
            now.append(rss)
        self.samples.append((time.monotonic(), now))

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_children(
    commands: list[list[str]], env: dict[str, str], *, timeout: float = 3600
) -> tuple[float, list[int], list[float], list[str]]:
    """Start every command at once, wait for all. Returns (wall seconds, peak RSS bytes per
    process, CPU seconds per process, stdout per process); raises if one fails."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    outputs: list[str] = [""] * len(procs)
    errors: list[str] = [""] * len(procs)

    def reader(i: int) -> None:
        outputs[i], errors[i] = procs[i].communicate()

    readers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(len(procs))]
    with Watch([p.pid for p in procs]) as watch:
        for thread in readers:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in readers:
            thread.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - started
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
    for i, proc in enumerate(procs):
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(commands[i][:4])} failed: {errors[i][-3000:]}")
    return elapsed, watch.peak, watch.cpu, outputs


@dataclass
class Target:
    """One figure checked against the issue's target."""

    name: str
    value: float
    target: str  # e.g. ">= 1.5"
    met: bool
    note: str = ""


@dataclass
class Part:
    """What a bench part returns: a table, the targets, and raw figures for the JSON file."""

    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, value: float, op: str, bound: float, note: str = "") -> None:
        met = value >= bound if op == ">=" else value <= bound
        self.targets.append(Target(name, round(value, 3), f"{op} {bound:g}", met, note))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def render(part: Part) -> str:
    cells = [[fmt(v) for v in row] for row in part.rows]
    widths = [
        max(len(col), *(len(r[i]) for r in cells)) if cells else len(col)
        for i, col in enumerate(part.columns)
    ]
    lines = [f"## {part.name}", ""]
    lines.append(
        "| " + " | ".join(c.ljust(w) for c, w in zip(part.columns, widths, strict=True)) + " |"
    )
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for raw, row in zip(part.rows, cells, strict=True):
        aligned = [
            c.rjust(w) if isinstance(v, int | float) else c.ljust(w)
            for v, c, w in zip(raw, row, widths, strict=True)
        ]
        lines.append("| " + " | ".join(aligned) + " |")
    if part.targets:
        lines.append("")
        for t in part.targets:
            mark = "met" if t.met else "MISSED"
            note = f" ({t.note})" if t.note else ""
            lines.append(f"- {t.name}: {fmt(t.value)} (target {t.target}): {mark}{note}")
    for note in part.notes:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"
