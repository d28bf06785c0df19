#!/usr/bin/env python3
"""Database outage check: a worker loses the database mid-batch and must ride it out.

Creates a batch of 200 domains for a test processor (0.2 s a domain, one line per attempt in a
processed log) and starts ``domainbatch worker --burst --batch ID`` with a 3 s lease. Mid-batch
the database becomes unreachable for the worker, longer than its lease, then comes back:

* Postgres (direct or through its pooler): the worker goes through a TCP proxy the script owns
  on 127.0.0.1; the cut resets every link and refuses new ones. The server is never touched.
* SQLite (no link to lose): the script holds the write lock (``BEGIN EXCLUSIVE``).

The script's own reads and its cleanup go to the database directly. Checks that the worker
stays alive through the outage, that nothing ends while it lasts, that the batch then completes
with every domain succeeded exactly once (counters equal the rows; a domain runs again only if
its lease expired during the outage, as the lease rules allow), that the worker logged the loss
and the return once each (Postgres) and no traceback. Reports ``RECOVERY database_outage``:
seconds from the restore until the first domain ended, with the time until the batch ended.

    python scripts/testing/test_db_outage.py [--verbose] [--never-restore] [--deadline 30]

``--never-restore`` never ends the outage: the script must fail, saying the database stayed
unreachable, once the batch has not ended ``--deadline`` seconds after the outage began.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from children import Child
from common import (
    CheckFailed,
    Script,
    check,
    check_equal,
    check_progress,
    domain_rows,
    log,
    main,
    nonzero,
    recovery,
    runtime,
    step,
)
from faults import Fault, fault_for
from tests.support.processes import child_env

from domainbatch.runtime import Runtime
from domainbatch.service import describe_database as database_facts

SCRIPTED = "tests.support.processors:scripted"
DOMAINS = 200
DELAY = 0.2  # seconds a domain: the batch takes ~5 s at concurrency 8, outage aside
CONCURRENCY = 8
LEASE_SECONDS = 3.0
OUTAGE_SECONDS = LEASE_SECONDS + 3  # longer than the lease: held domains may be reclaimed
CUT_AFTER = DOMAINS // 5  # domains ended before the outage begins
SETTLE_SECONDS = 0.5  # for a transaction in flight at the cut to end, one way or the other
MAX_ATTEMPTS = 3  # a reclaimed domain (attempt 2) must not be failed as spent
LOST = "lost the database"
BACK = "database is back"


@dataclass
class Timeline:
    cut_at: float
    held: set[str]  # domains the worker held (processing) during the outage
    restored_at: float | None = None
    resumed_at: float | None = None
    ended_at: float | None = None


def worker_env(fault: Fault, script: Script, processed: Path) -> dict[str, str]:
    return child_env(
        DOMAINBATCH_DATABASE_URL=fault.worker_url(),
        DOMAINBATCH_POOLER_MODE=str(database_facts(script.settings)["pooler_mode"]),
        DOMAINBATCH_DB_APPLICATION_NAME="domainbatch-outage-worker",
        DOMAINBATCH_LEASE_SECONDS=str(LEASE_SECONDS),
        DOMAINBATCH_POLL_MIN_SECONDS="0.05",
        DOMAINBATCH_POLL_MAX_SECONDS="0.5",
        DOMAINBATCH_ACK_INTERVAL_SECONDS="0.1",
        DOMAINBATCH_TEST_PROCESSED_LOG=str(processed),
        COLUMNS="200",
    )


async def done_count(rt: Runtime, batch_id: str) -> tuple[int, str]:
    status = await rt.batches().status(batch_id)
    check_progress(status, f"batch {batch_id}")
    return status.done, status.status


async def wait_for_progress(rt: Runtime, batch_id: str, worker: Child) -> None:
    deadline = time.monotonic() + 60
    while (await done_count(rt, batch_id))[0] < CUT_AFTER:
        check(worker.running(), "the worker runs until its batch ends", worker.tail(20))
        check(time.monotonic() < deadline, f"{CUT_AFTER} domains ended within 60 s", worker.tail())
        worker.sample_rss()
        await asyncio.sleep(0.05)


async def outage(rt: Runtime, batch_id: str, fault: Fault, worker: Child) -> Timeline:
    """Cut, hold longer than the lease (the worker must live on, nothing may end), and note
    which domains the worker held meanwhile."""
    await fault.cut()
    timeline = Timeline(time.monotonic(), set())
    await asyncio.sleep(SETTLE_SECONDS)
    frozen, _ = await done_count(rt, batch_id)
    timeline.held = {str(d.domain) async for d in rt.batches().items(batch_id, status="processing")}
    log.info("outage began: %d domains ended, %d held by the worker", frozen, len(timeline.held))
    check(bool(timeline.held), "the outage caught the worker holding domains (mid-batch)")
    while time.monotonic() < timeline.cut_at + OUTAGE_SECONDS:
        check(worker.running(), "the worker stays alive during the outage", worker.tail(20))
        await asyncio.sleep(0.1)
    check_equal(
        (await done_count(rt, batch_id))[0], frozen, "domains ended while the database was away"
    )
    return timeline


async def until_the_end(
    rt: Runtime, batch_id: str, timeline: Timeline, deadline: float, worker: Child
) -> None:
    """Poll until the batch ends, noting when the first domain ends after the restore."""
    done, status = await done_count(rt, batch_id)
    while status in ("pending", "processing"):
        if time.monotonic() > timeline.cut_at + deadline:
            counts, _ = await domain_rows(rt, batch_id)  # the rows: the truth, whatever ended
            open_now = counts.get("pending", 0) + counts.get("processing", 0)
            if timeline.restored_at is None:
                raise CheckFailed(
                    f"the database stayed unreachable: the batch did not end within {deadline:g} s"
                    f" of the outage ({open_now} domains still open)"
                )
            raise CheckFailed(
                f"the batch did not end within {deadline:g} s of the outage, although the "
                f"database came back after {OUTAGE_SECONDS:g} s ({open_now} domains still open,"
                f" {done} ended by the counters); the worker's log ends: {worker.tail(3)}"
            )
        worker.sample_rss()
        await asyncio.sleep(0.05)
        before = done
        done, status = await done_count(rt, batch_id)
        if done > before and timeline.resumed_at is None and timeline.restored_at is not None:
            timeline.resumed_at = time.monotonic()
    timeline.ended_at = time.monotonic()


def runs_of(processed: Path) -> Counter[str]:
    """Processing runs by domain: the processor logs a line ("PID DOMAIN") as each starts."""
    return Counter(line.split()[1] for line in processed.read_text().splitlines())


async def check_outcome(
    rt: Runtime, batch_id: str, timeline: Timeline, processed: Path, claimed: int
) -> int:
    """Nothing lost, nothing doubled; returns how many domains ran twice."""
    final = await rt.batches().status(batch_id)
    check_equal(final.status, "completed", "final batch status")
    counts, errors = await domain_rows(rt, batch_id)
    check_equal(counts, {"succeeded": DOMAINS}, "domain rows by status")
    check_equal(nonzero(final.counts), counts, "the counters equal the domain rows")
    check_equal(final.errors, errors, "errors by code equal the domain rows")
    rows = {str(d.domain): d async for d in rt.batches().items(batch_id)}
    check_equal(len(rows), DOMAINS, "domain rows")
    runs = runs_of(processed)
    missing = sorted(set(rows) - set(runs))
    check(not missing, "every domain was processed", f"never run: {missing[:5]}")
    check_equal(sum(runs.values()), claimed, "processing runs equal the worker's claims")
    for domain, row in rows.items():
        check_equal((row.result or {}).get("domain"), domain, f"{domain}: its result is recorded")
        # A run starts per claim the worker received; a claim whose answer the outage lost
        # counts an attempt nobody ran. Only a lease that expired in the outage adds a claim.
        limit = 2 if domain in timeline.held else 1
        check(
            1 <= runs[domain] <= row.attempts <= limit,
            f"{domain}: runs <= attempts <= {limit} ({'held' if limit == 2 else 'not held'}"
            " by the worker during the outage)",
            f"{runs[domain]} runs, {row.attempts} attempts",
        )
    return sum(1 for n in runs.values() if n > 1)


def check_worker_log(output: str, fault: Fault) -> None:
    lines = output.splitlines()
    check("Traceback" not in output, "the worker logged no traceback", output[-2000:])
    lost = [line for line in lines if LOST in line]
    back = [line for line in lines if BACK in line]
    if fault.worker_sees_errors:
        check_equal(len(lost), 1, "the worker's 'lost the database' lines")
        check_equal(len(back), 1, "the worker's 'the database is back' lines")
        check("failed retries" in back[0], "the return says how many retries failed", back[0])
        log.info("worker: %s", lost[0].split(": ", 1)[-1])
        log.info("worker: %s", back[0].split(": ", 1)[-1])
    else:
        # Its writes waited on the lock (busy_timeout, 60 s): no error, so no outage to log.
        check_equal(lost + back, [], "the worker's outage lines (it waits on the lock)")


def claims_of(output: str) -> int:
    """The claims the worker made, from its last line ("worker done: N claimed, ...")."""
    found = re.search(r"worker done: ([\d,]+) claimed", output)
    check(found is not None, "the worker reports its work", output[-1000:])
    assert found is not None
    return int(found.group(1).replace(",", ""))


async def ride_out(script: Script, rt: Runtime, batch_id: str, fault: Fault, tmp: Path) -> None:
    """The worker through the outage, then every check of its outcome."""
    processed = tmp / "processed.log"
    argv = ["worker", "--burst", "--batch", batch_id, "--concurrency", str(CONCURRENCY)]
    argv += ["--log-level", "info", "--log-format", "text"]
    worker = Child("worker", argv, worker_env(fault, script, processed), tmp)
    try:
        worker.start()
        with step(f"the worker processes the batch until {CUT_AFTER} domains ended"):
            await wait_for_progress(rt, batch_id, worker)
        with step(f"{fault.kind} for {OUTAGE_SECONDS:g} s (lease {LEASE_SECONDS:g} s)"):
            timeline = await outage(rt, batch_id, fault, worker)
        if script.args.never_restore:
            log.warning("--never-restore: the database stays unreachable for the worker")
        else:
            await fault.restore()
            timeline.restored_at = time.monotonic()
            log.info("the database is reachable again")
        with step("the batch ends"):
            await until_the_end(rt, batch_id, timeline, script.args.deadline, worker)
            check_equal(await worker.wait(30), 0, "the worker's exit status (--burst)")
    finally:
        await fault.close()  # first: a worker stopping needs the lock (SQLite)
        await worker.shut_down()
    output = worker.output()
    with step("every domain succeeded exactly once"):
        re_runs = await check_outcome(rt, batch_id, timeline, processed, claims_of(output))
    with step("the worker logged the outage and its end, without a traceback"):
        check_worker_log(output, fault)
    assert timeline.restored_at and timeline.resumed_at and timeline.ended_at  # set on success
    recovery(
        "database_outage",
        timeline.resumed_at - timeline.restored_at,
        f"{fault.kind} for {OUTAGE_SECONDS:g} s (lease {LEASE_SECONDS:g} s); batch completed"
        f" {timeline.ended_at - timeline.restored_at:.2f} s after the restore; {len(timeline.held)}"
        f" domains held, {re_runs} re-run; {DOMAINS}/{DOMAINS} succeeded",
    )


async def body(script: Script) -> None:
    # ``.test`` names are valid here: the processor makes no request, so never a real name.
    settings = script.settings.with_overrides(max_attempts=MAX_ATTEMPTS, extra_suffixes=["test"])
    async with runtime(settings) as rt:
        names = [f"d{i}.outage.test" for i in range(DOMAINS)]
        created = await rt.batches().create(names, processor=SCRIPTED, options={"delay": DELAY})
        batch_id = script.cleanup.batch(created.id)
        check_equal(created.status, "pending", "status at creation")
        fault = fault_for(settings, rt.db.pooler_mode)  # as detected on connecting
        log.info("variant: %s", fault.variant)
        with tempfile.TemporaryDirectory() as tmp:
            await ride_out(script, rt, batch_id, fault, Path(tmp))


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--never-restore",
        action="store_true",
        help="Negative control: the outage never ends; the script must fail.",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="Seconds after the outage began within which the batch must end (default 30).",
    )


if __name__ == "__main__":
    main("test_db_outage", __doc__, body, arguments)
