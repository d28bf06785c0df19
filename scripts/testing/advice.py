"""The recommendations of a report: what a failure most likely means, and what the figures and
settings of a passing run suggest."""

from __future__ import annotations

import re
from typing import Any

from script_result import Result

HINTS = [
    (
        re.compile(r"never reclaimed", re.I),
        "A dead worker's domains were not taken back: every worker's sweep reclaims expired "
        "leases (every half LEASE_SECONDS); check that all workers run this domainbatch and "
        "that their sweep runs (a worker log without sweep errors).",
    ),
    (
        re.compile(r"stayed unreachable|stays alive during the outage", re.I),
        "A worker did not ride out a database outage: it must stay alive and resume by itself "
        "when the database (or its pooler) comes back; its log says what it did meanwhile.",
    ),
    (
        re.compile(r"RSS grew", re.I),
        "The worker's memory grows while it works: a leak (in a processor, a cache without a "
        "bound); run the soak longer (--soak 30) to confirm, and profile the worker.",
    ),
    (
        re.compile(r"webhook signature", re.I),
        "Webhook signatures do not verify: a receiver must compute the HMAC-SHA256 of "
        "'<timestamp>.<body>' with the batch's secret (see the README's Webhooks).",
    ),
    (
        re.compile(r"run in a pooler mode", re.I),
        "A pooler answers in front of Postgres, but the processes run as if connected directly: "
        "leave DOMAINBATCH_POOLER_MODE at auto, or set it to transaction.",
    ),
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
            # The reason names the cause best; the log's tail only when the reason does not.
            failure, tail = result.failure or "", (result.log or "")[-3000:]
            hint = next((h for p, h in HINTS if p.search(failure)), None)
            hint = hint or next((h for p, h in HINTS if p.search(tail)), None)
            if hint is not None and hint not in found:
                found.append(hint)
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
    elif isinstance(task, int | float) and isinstance(fetch, int | float):
        # A domain waiting for one of the worker's connections is not timed by TOTAL_TIMEOUT
        # but is by TASK_TIMEOUT: behind hung hosts it may wait for several fetches ahead of it.
        # Unset CONCURRENCY is adaptive, up to MAX_CONCURRENCY; unset HTTP_CONNECTION_LIMIT
        # follows that in-flight bound (one connection per domain: no wait at all).
        pinned = settings.get("concurrency")
        inflight = int(pinned or settings.get("max_concurrency") or 1000)
        sockets = int(settings.get("http_connection_limit") or inflight)
        wait = fetch * max(1.0, inflight / sockets)
        if task < wait:
            bound = "CONCURRENCY" if pinned else "MAX_CONCURRENCY (CONCURRENCY is adaptive)"
            found.append(
                f"TASK_TIMEOUT ({task:g} s) is below TOTAL_TIMEOUT x {bound} / "
                f"HTTP_CONNECTION_LIMIT ({wait:g} s): behind hung hosts holding every "
                "connection, healthy domains waiting for one may be cut by the task limit."
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
