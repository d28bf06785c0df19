#!/usr/bin/env python3
"""Several validation reports side by side, one column per backend: each script's status, the
pooler compliance checks with their counts, recovery times, the soak's slope, and how many
WARNING/ERROR lines each run printed. Written as Markdown on stdout.

    python scripts/testing/summarize.py reports/test-results-A.json reports/test-results-B.json ...

Exit status 1 when a report did not pass (or cannot be read), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from evidence import COMPLIANCE_CHECKS, cell


def backend(report: dict[str, Any]) -> str:
    env = report["environment"]
    if env.get("database") == "sqlite":
        return "SQLite"
    pooler = str(env.get("pooler_version") or "")
    where = pooler if pooler.startswith("PgBouncer") else "Postgres direct"
    return f"{where} ({env.get('pooler_mode')})"


def rows(reports: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = [("status", [r["status"].upper() for r in reports])]
    names = list(dict.fromkeys(s["name"] for r in reports for s in r["scripts"]))
    for name in names:
        cells = []
        for r in reports:
            found = [s for s in r["scripts"] if s["name"] == name]
            cells.append(
                f"{found[0]['status']} ({found[0]['duration_seconds']} s)" if found else ""
            )
        out.append((f"`{name}`", cells))
    for _, label in COMPLIANCE_CHECKS:
        cells = []
        for r in reports:
            table = r.get("pooler_compliance") or {}
            if not table.get("applicable"):
                cells.append("n/a")
                continue
            check = next((c for c in table["checks"] if c["check"] == label), None)
            found = None if check is None else check["found"]
            cells.append("not measured" if found is None else f"{found} / {check['connections']}")
        out.append((f"{label} (found / connections)", cells))
    whats = list(dict.fromkeys(x["what"] for r in reports for x in r.get("recovery", [])))
    for what in whats:
        cells = []
        for r in reports:
            found = [x for x in r.get("recovery", []) if x["what"] == what]
            cells.append(f"{found[0]['seconds']:.2f} s" if found else "")
        out.append((f"recovery after {what.replace('_', ' ')}", cells))
    if any(r.get("soak") for r in reports):
        slopes = []
        for r in reports:
            slope = (r.get("soak") or {}).get("slope_mb_per_min")
            slopes.append("" if slope is None else f"{slope:+.2f} MB/min")
        out.append(("soak RSS slope", slopes))
    problems = [sum(p["count"] for p in r.get("warnings_and_errors", [])) for r in reports]
    out.append(("WARNING/ERROR lines", [str(n) for n in problems]))
    return out


def markdown(reports: list[dict[str, Any]], paths: list[Path]) -> str:
    lines = [
        "# domainbatch validation: backends side by side",
        "",
        "| | " + " | ".join(backend(r) for r in reports) + " |",
        "|---|" + "---|" * len(reports),
    ]
    lines += [
        f"| {label} | " + " | ".join(cell(c) for c in cells) + " |"
        for label, cells in rows(reports)
    ]
    lines += ["", "Reports: " + ", ".join(f"`{p}`" for p in paths) + "."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("reports", nargs="+", type=Path, help="JSON reports of run_all.py")
    args = parser.parse_args()
    reports = []
    for path in args.reports:
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"summarize: cannot read {path}: {exc}", file=sys.stderr)
            return 1
    print(markdown(reports, args.reports), end="")
    return 0 if all(r["status"] == "passed" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
