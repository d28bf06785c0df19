"""``python -m bench``: the benchmarks against the peers and the limit, side by side.

    python -m bench all [--quick] [--soak MINUTES] [--only queue,create,fetch,memory,extract]
    python -m bench queue|create|fetch|memory|fingerprints|coverage [options]   # one part
    python -m bench internet [--hosts 5000] [--netns]     # a simulated internet (not in all)
    python -m bench extract [options]                      # extraction alone (bench/extract.py)

``all`` runs every part, prints one table and writes ``bench/results/latest.json`` (and a
timestamped copy). ``--quick`` shrinks every size so the whole run takes a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import coverage, create, fetch, fingerprints, internet, memory, queue
from bench.common import RESULTS, Part, render

PARTS = ("queue", "create", "fetch", "memory", "extract", "fingerprints", "coverage")

# (full, quick) keyword arguments of each part's ``run``.
PRESETS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "queue": (
        {"domains": 100_000, "workers": (1, 2, 4), "rounds": 3},
        {"domains": 20_000, "workers": (1, 4), "rounds": 1},
    ),
    "create": (
        {"entries": 1_000_000, "status_seconds": 20.0},
        {"entries": 100_000, "status_seconds": 5.0},
    ),
    "fetch": (
        {"domains": 10_000, "schemes": ("http", "https"), "rounds": 3},
        {"domains": 1_000, "schemes": ("http",), "rounds": 1},
    ),
    "memory": (
        {"checkpoints": (100_000, 1_000_000)},
        {"checkpoints": (20_000, 100_000)},
    ),
    "extract": ({"seconds": 10.0}, {"seconds": 3.0}),
    "fingerprints": ({"rounds": 5}, {"rounds": 1}),
    "coverage": ({}, {}),
    # Not in ``all``'s default parts: ~25 minutes at full size (``--only ...,internet``).
    "internet": ({"hosts": 5000}, {"hosts": 300}),
}


def run_extract(seconds: float = 10.0, log: Callable[[str], None] = print) -> Part:
    """Extraction alone, through bench/extract.py (owned by the extractor's work)."""
    import subprocess

    from tests.support.processes import REPO, child_env

    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "extract.py"), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
    )
    part = Part("Extraction alone (bench/extract.py)", ["line"])
    if proc.returncode != 0:
        part.notes.append(f"bench/extract.py failed: {proc.stderr.strip()[-500:]}")
        return part
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    part.rows = [[line] for line in lines]
    part.raw = {"stdout": proc.stdout}
    log("  extract: done")
    return part


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in load],
    }


def run_part(name: str, quick: bool, soak: float | None, log: Callable[[str], None]) -> Part:
    kwargs = dict(PRESETS[name][1 if quick else 0])
    if name == "queue":
        return queue.run(log=log, **kwargs)
    if name == "create":
        return create.run(log=log, **kwargs)
    if name == "fetch":
        return fetch.run(log=log, **kwargs)
    if name == "memory":
        return memory.run(log=log, soak_minutes=soak, **kwargs)
    if name == "fingerprints":
        return fingerprints.run(log=log, **kwargs)
    if name == "coverage":
        return coverage.run(log=log, **kwargs)
    if name == "internet":
        return internet.run(log=log, **kwargs)
    return run_extract(log=log, **kwargs)


def write_results(
    parts: list[Part], args: dict[str, Any], started: float, name: str = "latest"
) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = "\n".join(render(p) for p in parts)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    data = {
        "when": stamp,
        "seconds": round(time.monotonic() - started, 1),
        "args": args,
        "machine": machine(),
        "parts": [p.as_dict() for p in parts],
        "targets": [{"part": p.name, **t.__dict__} for p in parts for t in p.targets],
        "table": table,
    }
    text = json.dumps(data, indent=2, default=str)
    (RESULTS / f"{name}.json").write_text(text)
    (RESULTS / f"{name}.md").write_text(table)
    if name == "latest":
        (RESULTS / f"run-{stamp}.json").write_text(text)
    return RESULTS / f"{name}.json"


def summary(parts: list[Part]) -> str:
    lines = ["## Targets", "", "| target | figure | wanted | verdict |", "|---|---|---|---|"]
    for p in parts:
        for t in p.targets:
            lines.append(
                f"| {t.name} | {t.value:.2f} | {t.target} | {'met' if t.met else 'MISSED'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    every = sub.add_parser("all", help="every part; one table; bench/results/latest.json")
    every.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    every.add_argument("--soak", type=float, metavar="MINUTES", help="add a worker soak")
    every.add_argument("--only", default=",".join(PARTS), help="comma-separated parts")
    for name, module in (
        ("queue", queue),
        ("create", create),
        ("fetch", fetch),
        ("memory", memory),
        ("fingerprints", fingerprints),
        ("coverage", coverage),
        ("internet", internet),
    ):
        p = sub.add_parser(name, help=(module.__doc__ or "").split("\n")[0])
        p.add_argument("--quick", action="store_true", help="the quick preset's sizes")
        module.add_arguments(p)
    ex = sub.add_parser("extract", help="extraction alone (bench/extract.py)")
    ex.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    started = time.monotonic()
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    parts: list[Part] = []
    if args.command == "all":
        for name in args.only.split(","):
            log(f"== {name}")
            try:
                part = run_part(name, args.quick, args.soak, log)
            except Exception as exc:  # one broken part must not lose the others' figures
                part = Part(name, ["error"], rows=[[f"{type(exc).__name__}: {exc}"[:500]]])
                log(f"  {name} FAILED: {exc}")
            parts.append(part)
            print(render(part), flush=True)
    elif args.command == "extract":
        parts.append(run_extract(args.seconds, log))
        print(render(parts[0]))
    else:
        module = {
            "queue": queue,
            "create": create,
            "fetch": fetch,
            "memory": memory,
            "fingerprints": fingerprints,
            "coverage": coverage,
            "internet": internet,
        }[args.command]
        if args.quick:
            parts.append(run_part(args.command, True, getattr(args, "soak", None), log))
        else:
            parts.append(module.from_args(args))
        print(render(parts[0]))
    if args.command == "all":
        print(summary(parts))
    name = "latest" if args.command == "all" else f"{args.command}-latest"
    path = write_results(parts, vars(args), started, name)
    log(f"figures written to {path}")
    failed = [p.name for p in parts if p.columns == ["error"]]
    if failed:
        raise SystemExit(f"part(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
