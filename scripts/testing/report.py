"""The test results report: built from the scripts' outcomes, written as Markdown and JSON."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import evidence
from advice import recommendations
from environment import environment
from evidence import cell
from script_result import Result, iso

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
        "sabotage": list(args.sabotage),
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
        "pooler_compliance": evidence.pooler_compliance(results, env),
        "recovery": evidence.recovery_times(results),
        "soak": evidence.soak(results),
        "warnings_and_errors": evidence.warnings_and_errors(results),
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
    ]
    if report.get("sabotage"):
        out += [
            f"Negative control run (`--sabotage {' '.join(report['sabotage'])}`): a deliberate "
            "fault, so this run must fail, with the reason below.",
            "",
        ]
    out += [
        "## Environment",
        "",
        "| | |",
        "|---|---|",
    ]
    settings = env.get("settings") or {}
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
            value = cell(env[key])
            auto = settings.get("pooler_mode") == "auto" and env.get("database") != "sqlite"
            if key == "pooler_mode" and auto:
                value += " (detected: POOLER_MODE=auto)"
            out.append(f"| {key.replace('_', ' ')} | {value} |")
    if settings:
        out.append(
            "| settings | " + ", ".join(f"`{k}={cell(v)}`" for k, v in settings.items()) + " |"
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
            f"| {i} | `{s['name']}` | {s['status']} | {cell(s['exit_code'])} | {duration} | "
            f"{cell(s['started_at'])} | {cell(failure)} |"
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
    out += evidence.markdown_sections(report)
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


def markdown_summary(report: dict[str, Any]) -> str:
    lines = [f"{report['status'].upper()} ({report['duration_seconds']} s)"]
    for s in report["scripts"]:
        duration = "" if s["duration_seconds"] is None else f"{s['duration_seconds']:6.1f} s"
        lines.append(f"  {s['status']:<9} {duration:>8}  {s['name']}")
    return "\n".join(lines)
