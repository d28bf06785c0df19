#!/usr/bin/env python3
"""Run the validation scripts in order and write the test results report.

Runs test_db_connection, test_batch_create, test_batch_process, monitor_test and
test_batch_e2e, each as its own subprocess against the database named by
DOMAINBATCH_DATABASE_URL (their output is shown as it comes). Stops at the first failure
unless --keep-going. Writes reports/test-results-<timestamp>.md and .json: the environment
(Python, OS, database and pooler versions, the settings that matter), start and end times,
each script's status, exit code and duration, the full log of every failure, the performance
figures the scripts printed (METRIC lines) and recommendations. Exit status 0 when every
script passed.

    python scripts/testing/run_all.py [--keep-going] [--verbose] [--quiet]
                                      [--only NAME,...] [--reports-dir DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The shared harness (tests.support) is the checkout's: importable wherever this starts from.
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))

from tests.support.processes import stop  # noqa: E402

SCRIPTS = [
    "test_db_connection",
    "test_batch_create",
    "test_batch_process",
    "monitor_test",
    "test_batch_e2e",
]
METRIC = re.compile(
    r"\bMETRIC (?P<name>[A-Za-z0-9_]+)=(?P<value>-?[0-9.]+(?:e-?[0-9]+)?)(?: (?P<unit>\S+))?\s*$"
)
FACT = re.compile(r"\bFACT (?P<name>[A-Za-z0-9_]+)=(?P<value>.*)$")
FAILED = re.compile(r"\bFAILED( \[step: (?P<step>.*?)\])?: (?P<reason>.*)$")
# Settings worth knowing when reading a report (names of domainbatch.settings.Settings).
REPORTED_SETTINGS = [
    "pooler_mode",
    "db_pool_size",
    "db_max_overflow",
    "concurrency",
    "claim_size",
    "lease_seconds",
    "max_attempts",
    "task_timeout",
    "total_timeout",
    "connect_timeout",
    "max_body_bytes",
    "max_entries",
    "insert_chunk_size",
    "default_processor",
    "allow_private_addresses",
    "nameservers",
]


@dataclass
class Result:
    name: str
    status: str = "not run"  # passed, failed, timed out, not run
    exit_code: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    failure: str | None = None
    failed_step: str | None = None
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    log: str | None = None  # the full output, kept for scripts that did not pass
    log_lines: int = 0


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def run_script(name: str, args: argparse.Namespace) -> Result:
    result = Result(name)
    command = [sys.executable, str(HERE / f"{name}.py")] + (["--verbose"] if args.verbose else [])
    started = now()
    result.started_at = iso(started)
    clock = time.perf_counter()
    print(f"\n=== {name} ({iso(started)}) ===", file=sys.stderr, flush=True)
    # Its own process group: on a timeout the script's children (server, workers) go too.
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        # SIGTERM first: the script cancels itself and still cleans up; if it has not ended
        # 30 s later, the whole group goes (the script's server and workers too).
        stop(proc, grace=30)

    timer = threading.Timer(args.timeout, expire)
    timer.daemon = True
    timer.start()
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if not args.quiet:
            sys.stderr.write(line)
            sys.stderr.flush()
    proc.wait()
    timer.cancel()
    result.exit_code = proc.returncode
    result.duration_seconds = round(time.perf_counter() - clock, 2)
    result.finished_at = iso(now())
    result.log_lines = len(lines)
    for line in lines:
        if m := METRIC.search(line):
            result.metrics[m["name"]] = {"value": float(m["value"]), "unit": m["unit"] or ""}
        elif m := FACT.search(line):
            result.facts[m["name"]] = m["value"].strip()
        elif (m := FAILED.search(line)) and result.failure is None:
            result.failure = m["reason"].strip()
            result.failed_step = m["step"]
    if timed_out.is_set():
        result.status = "timed out"
        result.failure = f"did not finish within {args.timeout:g} s"
    else:
        result.status = "passed" if proc.returncode == 0 else "failed"
    if result.status != "passed":
        result.log = "\n".join(lines)
        if result.failure is None:
            result.failure = f"exit status {proc.returncode} (see the log)"
    mark = "PASSED" if result.status == "passed" else result.status.upper()
    print(
        f"=== {name}: {mark} in {result.duration_seconds:.1f} s (exit {proc.returncode}) ===",
        file=sys.stderr,
        flush=True,
    )
    return result


# Environment ------------------------------------------------------------------------------------
def environment(results: list[Result]) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "hostname": platform.node(),
        "working_directory": os.getcwd(),
    }
    env.update(_checkout())
    try:
        from domainbatch import __version__
        from domainbatch.service import describe_database
        from domainbatch.settings import Settings

        settings = Settings()
        database = describe_database(settings)
        env["domainbatch"] = __version__
        env["database_url"] = database["database_url"]
        env["database"] = database["database"]
        env["pooler_mode"] = database["pooler_mode"]
        values = settings.model_dump()
        env["settings"] = {k: values[k] for k in REPORTED_SETTINGS if k in values}
        env["settings"]["db_application_name"] = values.get("db_application_name")
    except Exception as exc:  # a broken configuration is itself a finding; report, go on
        env["settings_error"] = f"{type(exc).__name__}: {exc}"
    facts: dict[str, str] = {}
    for result in results:
        facts.update(result.facts)
    for key in ("server_version", "pooler_version", "schema_revision"):
        env[key] = facts.get(key, "not measured (test_db_connection did not report it)")
    if env.get("pooler_mode") == "direct" and "pooler_version" not in facts:
        env["pooler_version"] = "none (direct connection)"
    return env


def _checkout() -> dict[str, Any]:
    """The checkout's commit (read-only git commands; absent outside a git checkout)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit + (" (with local changes)" if dirty else "")} if commit else {}


# Recommendations -------------------------------------------------------------------------------
HINTS = [
    (
        re.compile(
            r"refused|could not connect|connection failed|unable to open database|"
            r"name or service not known|timeout expired",
            re.I,
        ),
        "The database is not reachable: check DOMAINBATCH_DATABASE_URL (host, port, credentials, "
        "network) and that the server is running.",
    ),
    (
        re.compile(r"schema|db upgrade", re.I),
        "Apply the migrations: `domainbatch db upgrade` against this database.",
    ),
    (
        re.compile(r"internal|processor", re.I),
        "A processor raised an unexpected error, recorded as `internal`: the script's log has "
        "the traceback; fix the processor (or its configuration) before processing real batches.",
    ),
    (
        re.compile(r"prepared statements|settings set|advisory|LISTEN", re.I),
        "Session state reached the server through the pooler: transaction-mode pooling will "
        "break; find what sets it (a driver option, a SET, an extension) before deploying.",
    ),
    (
        re.compile(r"invalid setting", re.I),
        "A DOMAINBATCH_ setting does not parse: fix the environment variable named above.",
    ),
]


def metric_value(results: list[Result], name: str) -> float | None:
    for result in results:
        if name in result.metrics:
            return float(result.metrics[name]["value"])
    return None


def recommendations(results: list[Result], env: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for result in results:
        if result.status in ("failed", "timed out"):
            where = f" (step: {result.failed_step})" if result.failed_step else ""
            found.append(f"`{result.name}` {result.status}{where}: {result.failure}")
            text = f"{result.failure}\n{result.log or ''}"
            for pattern, hint in HINTS:
                if pattern.search(result.failure or "") or pattern.search(text[-3000:]):
                    if hint not in found:
                        found.append(hint)
                    break
    skipped = [r.name for r in results if r.status == "not run"]
    if skipped:
        found.append(
            f"Not run after the first failure: {', '.join(skipped)} (use --keep-going to run "
            "every script)."
        )
    settings = env.get("settings") or {}
    database = env.get("database")
    if database == "sqlite":
        found.append(
            "The database is SQLite (the embedded default): right for one machine; for workers "
            "on several machines use Postgres, behind a transaction-mode pooler (Supavisor, "
            "PgBouncer) when there are many of them."
        )
    elif database == "postgresql" and env.get("pooler_mode") == "direct":
        per_process = int(settings.get("db_pool_size", 0)) + int(settings.get("db_max_overflow", 0))
        found.append(
            f"Direct Postgres connections: each worker or API process may open up to "
            f"{per_process} (DB_POOL_SIZE + DB_MAX_OVERFLOW); with many processes put a "
            "transaction-mode pooler in front (DOMAINBATCH_POOLER_MODE=transaction)."
        )
    if settings.get("allow_private_addresses"):
        found.append(
            "DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES is on in this environment: the SSRF guard is "
            "off, so batches can reach internal addresses. Keep it for internal audits only."
        )
    if settings.get("max_attempts") == 1:
        found.append("MAX_ATTEMPTS is 1: transient errors (timeouts, 5xx) are never retried.")
    task, fetch = settings.get("task_timeout"), settings.get("total_timeout")
    if isinstance(task, int | float) and isinstance(fetch, int | float) and task < fetch:
        found.append(
            f"TASK_TIMEOUT ({task:g} s) is below TOTAL_TIMEOUT ({fetch:g} s): slow fetches are "
            "cut by the task limit before their own."
        )
    for name in ("monitor_status_latency_ms_p95", "e2e_status_latency_ms_p95"):
        value = metric_value(results, name)
        if value is not None and value > 250:
            found.append(
                f"Status reads are slow ({name} = {value:.0f} ms): check the database's load "
                "and its network round trip."
            )
    for name in ("process_domains_per_second", "e2e_domains_per_second"):
        value = metric_value(results, name)
        if value is not None and value < 20:
            found.append(
                f"Processing is slow ({name} = {value:.1f}/s against a local web): the machine "
                "is overloaded, or CONCURRENCY is too low for it."
            )
    rss = metric_value(results, "e2e_worker_peak_rss_mb")
    if rss is not None and rss > 1024:
        found.append(
            f"A worker peaked at {rss:.0f} MB: lower CONCURRENCY or HTTP_CONNECTION_LIMIT."
        )
    if not any(r.status in ("failed", "timed out") for r in results) and not skipped:
        found.insert(0, "Every check passed.")
    return found


# Report ----------------------------------------------------------------------------------------
HEADLINES = [
    ("db_roundtrip_ms_p50", "database round trip through get_session(), p50"),
    ("create_entries_per_second", "batch creation (10,000-entry CSV)"),
    ("process_domains_per_second", "processing, in-process worker (200 domains, local web)"),
    ("e2e_domains_per_second", "processing, worker process (large batch over the API)"),
    ("process_peak_rss_mb", "peak RSS, in-process worker script"),
    ("e2e_worker_peak_rss_mb", "peak RSS, `domainbatch worker` process"),
    ("e2e_server_peak_rss_mb", "peak RSS, `domainbatch serve` process"),
    ("monitor_status_latency_ms_p50", "status read latency (library), p50"),
    ("monitor_status_latency_ms_p95", "status read latency (library), p95"),
    ("e2e_status_latency_ms_p50", "status read latency (HTTP API), p50"),
    ("e2e_status_latency_ms_p95", "status read latency (HTTP API), p95"),
]


def build_report(
    results: list[Result], started: dt.datetime, finished: dt.datetime, args: argparse.Namespace
) -> dict[str, Any]:
    env = environment(results)
    passed = all(r.status == "passed" for r in results)
    return {
        "title": "domainbatch validation scripts: test results",
        "status": "passed" if passed else "failed",
        "started_at": iso(started),
        "finished_at": iso(finished),
        "duration_seconds": round((finished - started).total_seconds(), 1),
        "keep_going": args.keep_going,
        "environment": env,
        "summary": {
            "passed": sum(r.status == "passed" for r in results),
            "failed": sum(r.status in ("failed", "timed out") for r in results),
            "not_run": sum(r.status == "not run" for r in results),
        },
        "scripts": [asdict(r) for r in results],
        "performance": {
            name: {**r.metrics[name], "script": r.name} for r in results for name in r.metrics
        },
        "recommendations": recommendations(results, env),
    }


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    out = [
        f"# {report['title']}",
        "",
        f"**{report['status'].upper()}**: {report['summary']['passed']} passed, "
        f"{report['summary']['failed']} failed, {report['summary']['not_run']} not run; "
        f"{report['started_at']} → {report['finished_at']} ({report['duration_seconds']} s).",
        "",
        "## Environment",
        "",
        "| | |",
        "|---|---|",
    ]
    for key in (
        "database_url",
        "server_version",
        "pooler_mode",
        "pooler_version",
        "schema_revision",
        "domainbatch",
        "commit",
        "python",
        "os",
        "machine",
        "cpus",
        "hostname",
        "settings_error",
    ):
        if key in env:
            out.append(f"| {key.replace('_', ' ')} | {_cell(env[key])} |")
    settings = env.get("settings") or {}
    if settings:
        out.append(
            "| settings | " + ", ".join(f"`{k}={_cell(v)}`" for k, v in settings.items()) + " |"
        )
    out += [
        "",
        "## Scripts",
        "",
        "| # | script | status | exit | duration | started | failure |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, s in enumerate(report["scripts"], 1):
        duration = "" if s["duration_seconds"] is None else f"{s['duration_seconds']:.1f} s"
        failure = s["failure"] or ""
        if s["failed_step"]:
            failure = f"[{s['failed_step']}] {failure}"
        out.append(
            f"| {i} | `{s['name']}` | {s['status']} | {_cell(s['exit_code'])} | {duration} | "
            f"{_cell(s['started_at'])} | {_cell(failure)} |"
        )
    perf = report["performance"]
    out += ["", "## Performance", ""]
    if perf:
        out += ["| figure | value | script |", "|---|---|---|"]
        shown = set()
        for name, label in HEADLINES:
            if name in perf:
                shown.add(name)
                p = perf[name]
                out.append(f"| {label} | {_number(p['value'])} {p['unit']} | `{p['script']}` |")
        others = [n for n in perf if n not in shown]
        if others:
            out += [
                "",
                "All figures: "
                + ", ".join(
                    f"`{n}` {_number(perf[n]['value'])} {perf[n]['unit']}".rstrip() for n in others
                )
                + ".",
            ]
    else:
        out.append("No figures: no script got far enough to measure.")
    out += ["", "## Recommendations", ""]
    out += [f"- {item}" for item in report["recommendations"]]
    failures = [s for s in report["scripts"] if s["log"] is not None]
    if failures:
        out += ["", "## Logs of the failures"]
        for s in failures:
            out += ["", f"### `{s['name']}` ({s['status']}, exit {s['exit_code']})", "", "```"]
            out.append(s["log"].replace("```", "'''"))
            out.append("```")
    return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:,.2f}"


def write_report(report: dict[str, Any], directory: Path, stamp: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / f"test-results-{stamp}"
    n = 1
    while base.with_suffix(".md").exists() or base.with_suffix(".json").exists():
        n += 1
        base = directory / f"test-results-{stamp}-{n}"
    md, js = base.with_suffix(".md"), base.with_suffix(".json")
    js.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md.write_text(markdown(report), encoding="utf-8")
    return md, js


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep-going", action="store_true", help="Run every script.")
    parser.add_argument("--verbose", "-v", action="store_true", help="Scripts log at debug.")
    parser.add_argument("--quiet", "-q", action="store_true", help="Do not echo script output.")
    parser.add_argument("--only", default="", help="Comma-separated scripts to run, in order.")
    parser.add_argument("--reports-dir", type=Path, default=REPO / "reports")
    parser.add_argument("--timeout", type=float, default=600, help="Seconds per script.")
    parser.add_argument(
        "--json",
        action="store_true",
        help="Print the JSON report on stdout (for monitoring; the summary stays on stderr).",
    )
    args = parser.parse_args()
    chosen = [s.strip().removesuffix(".py") for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCRIPTS]
    if unknown:
        parser.error(f"unknown script(s): {', '.join(unknown)}; known: {', '.join(SCRIPTS)}")
    names = [s for s in SCRIPTS if s in chosen] if chosen else SCRIPTS
    started = now()
    results = [Result(name) for name in names]
    for i, name in enumerate(names):
        results[i] = run_script(name, args)
        if results[i].status != "passed" and not args.keep_going:
            break
    finished = now()
    report = build_report(results, started, finished, args)
    md, js = write_report(report, args.reports_dir, started.strftime("%Y%m%dT%H%M%SZ"))
    print(f"\n{markdown_summary(report)}\nreport: {md}\n        {js}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if report["status"] == "passed" else 1


def markdown_summary(report: dict[str, Any]) -> str:
    lines = [f"{report['status'].upper()} ({report['duration_seconds']} s)"]
    for s in report["scripts"]:
        duration = "" if s["duration_seconds"] is None else f"{s['duration_seconds']:6.1f} s"
        lines.append(f"  {s['status']:<9} {duration:>8}  {s['name']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
