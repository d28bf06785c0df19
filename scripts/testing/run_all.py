#!/usr/bin/env python3
"""Run the validation scripts in order and write the test results report.

Runs test_db_connection, test_batch_create, test_batch_process, monitor_test,
test_batch_e2e, test_recovery and test_db_outage (and soak_test with --soak MINUTES), each as
its own subprocess against the database named by DOMAINBATCH_DATABASE_URL (their output is
shown as it comes). Stops at the first failure unless --keep-going. Writes
reports/test-results-<timestamp>.md and .json: the environment (Python, OS, database, the
pooler and the mode the processes detected, the settings that matter), start and end times,
each script's status, exit code and duration, the performance figures (METRIC lines), the
pooler compliance table (COMPLIANCE), recovery times after crashes and outages (RECOVERY), the
soak's memory curve (SOAK), every WARNING and ERROR line of every script, the full log of every
failure, and recommendations. Exit status 0 when every script passed.

    python scripts/testing/run_all.py [--keep-going] [--verbose] [--quiet] [--json]
                                      [--only NAME,...] [--soak MINUTES]
                                      [--reports-dir DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The shared harness (tests.support) is the checkout's: importable wherever this starts from.
if str(REPO) not in sys.path:
    sys.path.insert(1, str(REPO))

from report import build_report, markdown_summary, write_report  # noqa: E402
from script_result import Result, iso, now  # noqa: E402
from tests.support.processes import stop  # noqa: E402

SCRIPTS = [
    "test_db_connection",
    "test_batch_create",
    "test_batch_process",
    "monitor_test",
    "test_batch_e2e",
    "test_recovery",
    "test_db_outage",
]
SOAK = "soak_test"  # only with --soak MINUTES: it runs that long
# Negative controls (--sabotage KIND): a script run with a deliberate fault, which must make the
# report fail with a clear reason. KIND: (script, its extra arguments, environment overrides).
SABOTAGE: dict[str, tuple[str, list[str], dict[str, str]]] = {
    "reclaim": ("test_recovery", ["--sabotage", "reclaim"], {}),
    "outage": ("test_db_outage", ["--never-restore", "--deadline", "15"], {}),
    "webhook": ("test_batch_e2e", ["--bad-webhook-secret"], {}),
    "pooler": ("test_db_connection", [], {"DOMAINBATCH_POOLER_MODE": "direct"}),
    "leak": ("soak_test", ["--leak-mb-per-min", "60"], {}),
}


def run_script(name: str, args: argparse.Namespace) -> Result:
    result = Result(name)
    command = [sys.executable, str(HERE / f"{name}.py")] + (["--verbose"] if args.verbose else [])
    timeout = args.timeout
    if name == SOAK:
        command += ["--minutes", f"{args.soak:g}"]
        timeout += args.soak * 60
    env = dict(os.environ)
    for kind in args.sabotage:
        script, extra, overrides = SABOTAGE[kind]
        if script == name:
            command += extra
            env.update(overrides)
            print(
                f"negative control {kind}: {name} {' '.join(extra)} {overrides or ''}".rstrip(),
                file=sys.stderr,
            )
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
        env=env,
        start_new_session=True,
    )
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        # SIGTERM first: the script cancels itself and still cleans up; if it has not ended
        # 30 s later, the whole group goes (the script's server and workers too).
        stop(proc, grace=30)

    timer = threading.Timer(timeout, expire)
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
    result.read(lines)
    if timed_out.is_set():
        result.status = "timed out"
        result.failure = f"did not finish within {timeout:g} s"
    else:
        result.status = "passed" if proc.returncode == 0 else "failed"
    if result.status == "passed":
        result.failure = result.failed_step = None
    else:
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
        "--soak",
        type=float,
        metavar="MINUTES",
        help="Also run soak_test: one worker fed for MINUTES, its RSS a minute and the slope.",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="Print the JSON report on stdout (for monitoring; the summary stays on stderr).",
    )
    parser.add_argument(
        "--sabotage",
        action="append",
        default=[],
        choices=sorted(SABOTAGE),
        help="A negative control: run its script with a deliberate fault (the run must fail): "
        + "; ".join(f"{k}: {v[0]} {' '.join(v[1])}".rstrip() for k, v in SABOTAGE.items())
        + " (pooler: POOLER_MODE=direct, fails on a PgBouncer; leak needs --soak).",
    )
    args = parser.parse_args()
    if args.soak is not None and not 0 < args.soak <= 24 * 60:
        parser.error("--soak takes minutes, more than 0 and at most a day")
    known = [*SCRIPTS, SOAK] if args.soak is not None else SCRIPTS
    chosen = [s.strip().removesuffix(".py") for s in args.only.split(",") if s.strip()]
    if SOAK in chosen and args.soak is None:
        parser.error(f"{SOAK} runs for --soak MINUTES: give that option")
    unknown = [s for s in chosen if s not in known]
    if unknown:
        parser.error(f"unknown script(s): {', '.join(unknown)}; known: {', '.join(known)}")
    names = [s for s in known if s in chosen] if chosen else known
    # A negative control whose script does not run would leave a passing report that proved
    # nothing.
    idle = [k for k in args.sabotage if SABOTAGE[k][0] not in names]
    if idle:
        needs = ", ".join(f"{k} ({SABOTAGE[k][0]})" for k in idle)
        parser.error(f"--sabotage {needs}: that script is not in this run (--only, --soak)")
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


if __name__ == "__main__":
    sys.exit(main())
