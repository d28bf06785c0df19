#!/usr/bin/env python3
"""Batch processing check.

Processes batches with the library's worker, in this process and restricted to this script's
batches, against the repository's local test web (HTTP, HTTPS with its own CA, DNS, all on
127.0.0.1; never the internet): a single domain, several domains, only invalid entries, a mix
of good, failing and invalid domains, a batch where nothing succeeds, network failures (a
reset; a certificate for another name and an expired one, without usable plain http; a bad
certificate that falls back to http; connections refused, the fetcher aimed at a port where
nothing listens), and 200 domains for a throughput figure. Checks that background processing
ran without errors (no error logged, no ``internal`` outcome, nothing released), that each
batch went ``pending`` -> ``processing`` -> ``completed`` (``failed`` when nothing succeeded or
every entry was invalid), and every domain's status, error code, attempts (a reset or a refusal
is transient: tried twice; a certificate failure once) and error message.

    python scripts/testing/test_batch_process.py [--verbose] [--processor NAME]

``--processor`` runs the same batches with another processor (expected outcomes are the
homepage processor's): a way to see the script fail when processing is broken.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common import (
    Script,
    check,
    check_equal,
    check_progress,
    domain_rows,
    local_web,
    log,
    main,
    metric,
    nonzero,
    peak_rss_mb,
    run_worker,
    runtime,
    step,
    web_overrides,
)

from domainbatch.runtime import Runtime

OK = ("succeeded", None)
INVALID = ("invalid", "invalid_domain")
SLOW_SECONDS = 1.5  # slow.test answers after this long: the batch is seen processing meanwhile
MAX_ATTEMPTS = 2


@dataclass
class Case:
    title: str
    expected: dict[str, tuple[str, str | None]]  # input -> (domain status, error code)
    final: str
    attempts: dict[str, int] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # input -> part of its error message
    see_processing: bool = False  # long enough that polling must catch it processing
    # The fetcher aimed at the test web's closed port (bound, never listening) for https and
    # http alike: every connection is refused.
    closed_ports: bool = False


CASES = [
    Case("a single domain", {"plain.test": OK}, "completed"),
    Case(
        "several domains",
        {"plain.test": OK, "wordpress.test": OK, "shop.test": OK, "slow.test": OK},
        "completed",
        see_processing=True,
    ),
    Case(
        "only invalid entries",
        {"localhost": INVALID, "bad_name.test": INVALID, "1.2.3.4": INVALID},
        "failed",
    ),
    Case(
        "a mix: good, failing and invalid domains",
        {
            "plain.test": OK,
            "Wordpress.TEST": OK,
            "notfound.test": ("failed", "http_status"),
            "error.test": ("failed", "http_status"),
            "huge.test": ("failed", "too_large"),
            "binary.test": ("failed", "not_html"),
            "loop.test": ("failed", "too_many_redirects"),
            "nx-missing.example": ("failed", "dns_nxdomain"),
            "localhost": INVALID,
            "bad_": INVALID,
        },
        "completed",
        # A 500 is transient: attempted max_attempts times; a 404 is final at once.
        attempts={"error.test": MAX_ATTEMPTS, "notfound.test": 1, "plain.test": 1},
    ),
    Case(
        "nothing succeeds",
        {"notfound.test": ("failed", "http_status"), "nx-gone.example": ("failed", "dns_nxdomain")},
        "failed",
    ),
    Case(
        "network failures: a reset, bad certificates, a fallback to http",
        {
            "reset.test": ("failed", "connect_error"),
            "badcert-only.test": ("failed", "tls_error"),
            "expired.test": ("failed", "tls_error"),
            "badcert.test": OK,  # the certificate is refused, plain http answers
        },
        "completed",
        # A reset is transient: tried max_attempts times; a refused certificate is final.
        attempts={"reset.test": MAX_ATTEMPTS, "badcert-only.test": 1, "expired.test": 1},
        messages={
            "reset.test": "reset",
            "badcert-only.test": "not valid for 'badcert-only.test'",
            "expired.test": "expired",
        },
    ),
    Case(
        "network failures: connections refused",
        {"plain.test": ("failed", "connect_error")},
        "failed",
        attempts={"plain.test": MAX_ATTEMPTS},  # refused is transient
        messages={"plain.test": "connection refused"},
        closed_ports=True,
    ),
]


def sequence(statuses: list[str]) -> list[str]:
    """The distinct statuses in the order they were seen."""
    seen: list[str] = []
    for status in statuses:
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


async def process_case(script: Script, rt: Runtime, processor: str, case: Case) -> None:
    created = await rt.batches().create(list(case.expected), processor=processor)
    script.cleanup.batch(created.id)
    all_invalid = all(v == INVALID for v in case.expected.values())
    check_equal(created.status, "failed" if all_invalid else "pending", "status at creation")
    seen = [(await rt.batches().status(created.id)).status]

    async def observe() -> None:
        status = await rt.batches().status(created.id)
        check_progress(status, f"batch {created.id} while processing")
        seen.append(status.status)

    run = await run_worker(rt, [created.id], observe=observe)
    final = await rt.batches().status(created.id)
    seen.append(final.status)
    log.info(
        "batch %s: %s in %.2f s; seen %s; events %s; worker %s",
        created.id,
        final.status,
        run.seconds,
        " -> ".join(sequence(seen)),
        [e for e, _ in run.events],
        {k: getattr(run.stats, k) for k in ("claimed", "succeeded", "failed", "retried")},
    )

    # Each domain's outcome first: it names what went wrong most precisely.
    domains = {d.input: d async for d in rt.batches().items(created.id)}
    for raw, (status, code) in case.expected.items():
        row = domains.get(raw)
        check(row is not None, f"{raw!r} is stored")
        assert row is not None
        got = (row.status, row.error_code)
        check(
            got == (status, code),
            f"{raw}: outcome",
            f"expected {status}/{code}, got {got[0]}/{got[1]} ({row.error_message})",
        )
        if raw in case.attempts:
            check_equal(row.attempts, case.attempts[raw], f"{raw}: attempts")
        if raw in case.messages:
            check(
                case.messages[raw] in (row.error_message or ""),
                f"{raw}: the error message says {case.messages[raw]!r}",
                str(row.error_message),
            )
        if status == "succeeded":
            check_result(raw, row.result)

    check(not run.errors, "background processing logged no error", "; ".join(run.errors[:5]))
    check_equal(run.stats.released, 0, "domains released unprocessed")
    attempts = sum(d.attempts for d in domains.values())
    check_equal(run.stats.claimed, attempts, "claims made equal the attempts recorded")

    check_progress(final, f"batch {created.id} at the end")
    check_equal(final.status, case.final, "final batch status")
    check_equal(final.progress, 100.0, "final progress")
    counts, errors = await domain_rows(rt, created.id)
    check_equal(nonzero(final.counts), counts, "final counts equal the domain rows")
    check_equal(final.errors, errors, "final errors by code equal the domain rows")
    if case.final == "failed":
        reason = "every entry is invalid" if all_invalid else "no domain succeeded"
        check_equal(final.error, reason, "the reason a batch failed")

    events = [e for e, _ in run.events]
    if all_invalid:
        check_equal(sequence(seen), ["failed"], "statuses seen")
        check_equal(events, [], "events of a batch no worker had to touch")
        check_equal(run.stats.claimed, 0, "domains claimed")
        return
    check_equal(events, ["batch.started", f"batch.{case.final}"], "the worker's batch events")
    order = ["pending", "processing", case.final]
    check(
        all(s in order for s in seen) and sequence(seen) == sorted(sequence(seen), key=order.index),
        "statuses are seen in order pending -> processing -> final",
        " -> ".join(sequence(seen)),
    )
    check_equal(sequence(seen)[0], "pending", "first status seen")
    if case.see_processing:
        check("processing" in seen, "the batch was seen processing", " -> ".join(sequence(seen)))
    check(
        final.started_at is not None and final.finished_at >= final.started_at,
        "started_at and finished_at are set, in order",
    )


def check_result(raw: str, result: Mapping[str, Any] | None) -> None:
    """What the homepage processor must have recorded for a site that answered."""
    check(isinstance(result, Mapping), f"{raw}: a result is recorded")
    assert isinstance(result, Mapping)
    check_equal(result.get("status_code"), 200, f"{raw}: HTTP status")
    extracted = result.get("extracted") or {}
    check(bool(extracted.get("title")), f"{raw}: a title is extracted", str(extracted)[:200])
    if raw == "plain.test":
        check_equal(extracted.get("title"), "Plain Example Co", f"{raw}: title")
        check("hello@plainexample.com" in extracted.get("emails", []), f"{raw}: email found")
    if raw.lower() == "wordpress.test":
        names = {t["name"] for t in extracted.get("technologies", [])}
        check("WordPress" in names, f"{raw}: WordPress is recognised", str(sorted(names)))
    if raw == "badcert.test":  # its certificate refused, the page fetched over plain http
        check_equal((result.get("https_error") or {}).get("code"), "tls_error", f"{raw}: https")
        check_equal(str(result.get("final_url")).split(":")[0], "http", f"{raw}: scheme fetched")
    if raw == "shop.test":
        check(
            str(result.get("final_url", "")).startswith("https://www.shop.test"),
            f"{raw}: the redirect to www.shop.test was followed",
            str(result.get("final_url")),
        )


async def throughput(script: Script, rt: Runtime, processor: str) -> None:
    names = [f"p{i}.bench.test" for i in range(200)]
    created = await rt.batches().create(names, processor=processor)
    script.cleanup.batch(created.id)
    started = time.perf_counter()
    run = await run_worker(rt, [created.id])
    elapsed = time.perf_counter() - started
    final = await rt.batches().status(created.id)
    check(not run.errors, "background processing logged no error", "; ".join(run.errors[:5]))
    check_equal(final.status, "completed", "final batch status")
    check_equal(final.counts["succeeded"], len(names), "domains succeeded")
    metric("process_domains_per_second", len(names) / elapsed, "domains/s")
    log.info(
        "%d domains in %.2f s with concurrency %s (%.1f domains/s)",
        len(names),
        elapsed,
        rt.settings.concurrency or "adaptive",
        len(names) / elapsed,
    )


async def body(script: Script) -> None:
    processor: str = script.args.processor
    with local_web(slow_seconds=SLOW_SECONDS) as web:
        settings = script.settings.with_overrides(
            **web_overrides(
                web, max_attempts=MAX_ATTEMPTS, total_timeout=5.0, max_body_bytes=1_000_000
            )
        )
        async with runtime(settings) as rt:
            for case in CASES:
                with step(case.title):
                    if case.closed_ports:
                        closed = web.closed_port
                        refusing = settings.with_overrides(http_port=closed, https_port=closed)
                        async with runtime(refusing) as refused_rt:
                            await process_case(script, refused_rt, processor, case)
                    else:
                        await process_case(script, rt, processor, case)
            with step("200 domains: throughput"):
                await throughput(script, rt, processor)
    metric("process_peak_rss_mb", peak_rss_mb() or 0.0, "MB")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--processor", default="homepage", help="Processor name or module:factory.")


if __name__ == "__main__":
    main("test_batch_process", __doc__, body, arguments)
