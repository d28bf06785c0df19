"""The environment a validation run met: Python, OS, the checkout, the database and its pooler
(from the scripts' FACT lines: what the processes detected, not only what the URL says), and the
settings that matter when reading a report."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from script_result import Result

REPO = Path(__file__).resolve().parents[2]

# Settings worth knowing when reading a report (names of domainbatch.settings.Settings).
REPORTED_SETTINGS = [
    "pooler_mode",
    "db_pool_size",
    "db_max_overflow",
    "concurrency",
    "min_concurrency",
    "max_concurrency",
    "http_connection_limit",
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
    if "pooler_mode" in facts:
        # What the processes ran with: POOLER_MODE=auto decides at the first connection,
        # which the URL alone (above) cannot tell.
        env["pooler_mode"] = facts["pooler_mode"]
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
