"""One script's outcome as the runner saw it: status, exit code, times, and what its output said
in the machine-readable lines of ``common`` (METRIC, FACT, RECOVERY, COMPLIANCE, SOAK, the
FAILED line) plus every WARNING and ERROR line, passed or failed."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

NUMBER = r"-?[0-9.]+(?:e-?[0-9]+)?"
METRIC = re.compile(rf"\bMETRIC (?P<name>[A-Za-z0-9_]+)=(?P<value>{NUMBER})(?: (?P<unit>\S+))?\s*$")
FACT = re.compile(r"\bFACT (?P<name>[A-Za-z0-9_]+)=(?P<value>.*)$")
RECOVERY = re.compile(
    rf"\bRECOVERY (?P<name>[A-Za-z0-9_]+)=(?P<seconds>{NUMBER}) s ?(?P<detail>.*)$"
)
COMPLIANCE = re.compile(
    r"\bCOMPLIANCE (?P<name>[A-Za-z0-9_]+)=(?P<count>\d+) connections=(?P<n>\d+)"
)
SOAK = re.compile(rf"\bSOAK minute=(?P<minute>{NUMBER}) rss_mb=(?P<rss>{NUMBER})")
# common._failed's line, as the script's logger writes it (not any "FAILED:" in a message, such as
# an enum's repr "<BatchEvent.FAILED: 'batch.failed'>").
FAILED = re.compile(r"\sERROR\s+validate: FAILED( \[step: (?P<step>.*?)\])?: (?P<reason>.*)$")
# A log line of the scripts' format (common.LOG_FORMAT: time, level, logger), a child's log line
# relayed in it, a Python warning ("x.py:3: DeprecationWarning: ...") or a traceback's head.
LEVEL = re.compile(r"^\S+ (?P<level>WARNING|ERROR|CRITICAL)\s")
PY_WARNING = re.compile(r"\b[A-Z][A-Za-z]*Warning: ")
MAX_PROBLEM_CHARS = 400


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
    recoveries: dict[str, dict[str, Any]] = field(default_factory=dict)
    compliance: dict[str, dict[str, int]] = field(default_factory=dict)
    soak: list[dict[str, float]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # WARNING/ERROR lines
    log: str | None = None  # the full output, kept for scripts that did not pass
    log_lines: int = 0

    def read(self, lines: Iterable[str]) -> None:
        """Collect what the script's output says (called once, on the whole output)."""
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for number, line in enumerate(lines, 1):
            self.log_lines = number
            if m := METRIC.search(line):
                self.metrics[m["name"]] = {"value": float(m["value"]), "unit": m["unit"] or ""}
            elif m := FACT.search(line):
                self.facts[m["name"]] = m["value"].strip()
            elif m := RECOVERY.search(line):
                self.recoveries[m["name"]] = {
                    "seconds": float(m["seconds"]),
                    "detail": m["detail"].strip(),
                }
            elif m := COMPLIANCE.search(line):
                self.compliance[m["name"]] = {"count": int(m["count"]), "connections": int(m["n"])}
            elif m := SOAK.search(line):
                self.soak.append({"minute": float(m["minute"]), "rss_mb": float(m["rss"])})
            if (m := FAILED.search(line)) and self.failure is None:
                self.failure = m["reason"].strip()
                self.failed_step = m["step"]
            level = problem_level(line)
            if level is not None:
                text = line.strip()[:MAX_PROBLEM_CHARS]
                key = (level, message_of(text))
                if key in seen:
                    seen[key]["count"] += 1  # the same message again: counted, listed once
                else:
                    seen[key] = {"level": level, "line": number, "text": text, "count": 1}
                    self.problems.append(seen[key])


def problem_level(line: str) -> str | None:
    if m := LEVEL.search(line):
        return "ERROR" if m["level"] == "CRITICAL" else m["level"]
    if line.startswith("Traceback (most recent call last)"):
        return "ERROR"
    if PY_WARNING.search(line):
        return "WARNING"
    return None


def message_of(text: str) -> str:
    """The line without its timestamp, so repeats of one message count as one."""
    parts = text.split(" ", 1)
    return parts[1] if LEVEL.search(text) and len(parts) == 2 else text


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
