"""The report's evidence beyond pass/fail: pooler compliance (the session state found on the
server connections, check by check), recovery times after crashes and outages, a soak's memory
curve, and every WARNING and ERROR line any script printed, passed or failed."""

from __future__ import annotations

from typing import Any

from script_result import Result

# test_db_connection's session-state checks, in the order a reader expects them.
COMPLIANCE_CHECKS = [
    ("prepared_statements", "server-side prepared statements"),
    ("LISTEN_channels", "LISTEN channels"),
    ("advisory_locks", "advisory locks held"),
    ("open_cursors", "open cursors"),
    ("temporary_tables", "temporary tables"),
    ("SET_parameters", "parameters changed by SET"),
    ("connections_in_a_transaction", "connections left in a transaction"),
]


def pooler_compliance(results: list[Result], env: dict[str, Any]) -> dict[str, Any]:
    """Session state must be absent for a transaction-mode pooler (Supavisor, PgBouncer) to
    work: each check with what was found and over how many server connections."""
    backend = {
        "database": env.get("database"),
        "pooler_mode": env.get("pooler_mode"),
        "pooler_version": env.get("pooler_version"),
    }
    if env.get("database") == "sqlite":
        return {**backend, "applicable": False, "checks": [], "note": "SQLite: no server sessions"}
    found: dict[str, dict[str, int]] = {}
    for result in results:
        found.update(result.compliance)
    checks = []
    for name, label in COMPLIANCE_CHECKS:
        row = found.get(name)
        checks.append(
            {
                "check": label,
                "found": None if row is None else row["count"],
                "connections": None if row is None else row["connections"],
            }
        )
    measured = [c for c in checks if c["found"] is not None]
    ran = any(r.name == "test_db_connection" and r.status != "not run" for r in results)
    if not ran:
        verdict = "not measured: test_db_connection did not run"
    elif len(measured) < len(checks):
        verdict = "incomplete: test_db_connection did not get that far"
    elif any(c["found"] for c in measured):
        verdict = "not compliant: session state reached the server"
    else:
        verdict = "compliant: no session state on any server connection"
    return {**backend, "applicable": True, "checks": checks, "verdict": verdict}


def recovery_times(results: list[Result]) -> list[dict[str, Any]]:
    return [
        {"what": name, **row, "script": r.name}
        for r in results
        for name, row in r.recoveries.items()
    ]


def soak(results: list[Result]) -> dict[str, Any] | None:
    for result in results:
        if result.soak or "soak_rss_slope_mb_per_min" in result.metrics:
            slope = result.metrics.get("soak_rss_slope_mb_per_min", {}).get("value")
            bound = result.metrics.get("soak_rss_slope_bound_mb_per_min", {}).get("value")
            return {
                "script": result.name,
                "status": result.status,
                "samples": result.soak,
                "slope_mb_per_min": slope,
                "bound_mb_per_min": bound,
            }
    return None


def warnings_and_errors(results: list[Result]) -> list[dict[str, Any]]:
    return [{"script": r.name, **p} for r in results for p in r.problems]


def markdown_sections(report: dict[str, Any]) -> list[str]:
    out: list[str] = []
    out += _compliance_md(report["pooler_compliance"])
    out += _recovery_md(report["recovery"])
    if report.get("soak"):
        out += _soak_md(report["soak"])
    out += _problems_md(report["warnings_and_errors"])
    return out


def _compliance_md(table: dict[str, Any]) -> list[str]:
    out = ["", "## Pooler compliance", ""]
    where = f"{table['database']}, pooler mode {table['pooler_mode']}, {table['pooler_version']}"
    if not table["applicable"]:
        return [*out, f"Not applicable ({table['note']}; {where})."]
    out += [
        f"{where}: **{table['verdict']}**.",
        "",
        "| session state | found | server connections |",
    ]
    out.append("|---|---|---|")
    for c in table["checks"]:
        found = "not measured" if c["found"] is None else str(c["found"])
        out.append(
            f"| {c['check']} | {found} | {'' if c['connections'] is None else c['connections']} |"
        )
    return out


def _recovery_md(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Recovery", ""]
    if not rows:
        return [*out, "Not measured: the crash and outage scripts did not run or get that far."]
    out += ["| after | recovered in | what happened | script |", "|---|---|---|---|"]
    for r in rows:
        out.append(
            f"| {r['what'].replace('_', ' ')} | {r['seconds']:.2f} s | {cell(r['detail'])} "
            f"| `{r['script']}` |"
        )
    return out


def _soak_md(data: dict[str, Any]) -> list[str]:
    out = ["", "## Soak (one worker's memory)", ""]
    slope, bound = data["slope_mb_per_min"], data["bound_mb_per_min"]
    if slope is not None:
        limit = "" if bound is None else f" (bound {bound:g} MB/min)"
        out += [
            f"RSS slope: **{slope:+.2f} MB/min**{limit}; `{data['script']}` {data['status']}.",
            "",
        ]
    out += ["| minute | RSS (MB) |", "|---|---|"]
    out += [f"| {s['minute']:g} | {s['rss_mb']:.1f} |" for s in data["samples"]]
    return out


def _problems_md(rows: list[dict[str, Any]]) -> list[str]:
    out = ["", "## Warnings and errors", ""]
    if not rows:
        return [*out, "No script printed a WARNING or ERROR line."]
    out += [
        f"{len(rows)} distinct lines (repeats counted), from every script, passed or failed:",
        "",
        "| script | level | times | line |",
        "|---|---|---|---|",
    ]
    for r in rows:
        out.append(f"| `{r['script']}` | {r['level']} | {r['count']} | {cell(r['text'])} |")
    return out


def cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
