"""What the recovery check reads as evidence: each domain row of a batch with its lease (who
holds it, until when: the status read does not show that), the processed log of the test
processor (one line per attempt started, by process); and the worker subprocesses it starts
(their log shown when a step fails), waited for with a bound."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from children import Child, no_traceback
from common import check, check_equal, check_progress, domain_rows, log, nonzero
from sqlalchemy import select

from domainbatch.core.status import DomainStatus
from domainbatch.runtime import Runtime
from domainbatch.storage.tables import batch_domains as d

SABOTAGE = Path(__file__).resolve().with_name("reclaim_sabotage.py")
SETTLE_SECONDS = 0.5


@dataclass(frozen=True)
class Row:
    status: str
    attempts: int
    worker_id: str | None
    lease_expires_at: float | None
    started_at: float | None
    finished_at: float | None


Table = dict[str, Row]  # by domain


async def rows(rt: Runtime, batch_id: str) -> Table:
    """Every domain row of the batch as stored (a read of the table, for what only it shows:
    the holder of a lease and its expiry). A domain stored twice is a failed check."""
    query = select(
        d.c.domain,
        d.c.status,
        d.c.attempts,
        d.c.worker_id,
        d.c.lease_expires_at,
        d.c.started_at,
        d.c.finished_at,
    ).where(d.c.batch_id == batch_id)
    async with rt.db.connect() as conn:
        found = (await conn.execute(query)).all()
    table = {r.domain: Row(*r[1:]) for r in found}
    check(len(table) == len(found), "every domain is stored once", f"{len(found)} rows")
    return table


def held(table: Table) -> dict[str, Row]:
    return {domain: row for domain, row in table.items() if row.status == DomainStatus.PROCESSING}


def succeeded(table: Table) -> set[str]:
    return {domain for domain, row in table.items() if row.status == DomainStatus.SUCCEEDED}


async def settled_rows(rt: Runtime, batch_id: str) -> Table:
    """The rows once nothing writes them any more. A killed client's last statement may still
    be running in the server (Postgres finishes an autocommit statement whose client is gone):
    the rows count as settled when two reads ``SETTLE_SECONDS`` apart agree."""
    deadline = time.monotonic() + 10
    last = await rows(rt, batch_id)
    while True:
        await asyncio.sleep(SETTLE_SECONDS)
        now = await rows(rt, batch_id)
        if now == last:
            return now
        check(time.monotonic() < deadline, "the rows of the stopped worker settle within 10 s")
        last = now


def summary(table: Table) -> str:
    return ", ".join(
        f"{n} {s}" for s, n in sorted(Counter(r.status for r in table.values()).items())
    )


async def until(
    rt: Runtime,
    batch_id: str,
    child: Child,
    ready: Callable[[Table], bool],
    what: str,
    seconds: float,
) -> Table:
    """Poll the batch (its status obeys the progress rules at every read) until ``ready``."""
    deadline = time.monotonic() + seconds
    while True:
        check_progress(await rt.batches().status(batch_id), f"batch {batch_id} while processing")
        table = await rows(rt, batch_id)
        if ready(table):
            return table
        check(child.running(), f"{child.name} runs until {what}", child.tail(5))
        check(time.monotonic() < deadline, f"{what} within {seconds:g} s", summary(table))
        await asyncio.sleep(0.05)


async def finish(
    rt: Runtime, batch_id: str, child: Child, names: list[str], seconds: float
) -> Table:
    """The ``--burst`` worker finishes the batch and exits 0: completed, every domain once and
    succeeded, the counters (the status read) equal to the domain rows."""
    code = await child.wait(seconds)
    check(code is not None, f"{child.name} finishes the batch within {seconds:g} s")
    check_equal(code, 0, f"{child.name}'s exit status (--burst)")
    no_traceback(child)
    final = await rt.batches().status(batch_id)
    table = await rows(rt, batch_id)
    check_equal(sorted(table), sorted(names), "the batch's domains, each stored once")
    check_equal(summary(table), f"{len(names)} succeeded", "every domain succeeded")
    check_progress(final, f"batch {batch_id} at the end")
    check_equal(final.status, "completed", "final batch status")
    counts, errors = await domain_rows(rt, batch_id)
    check_equal(nonzero(final.counts), counts, "final counts equal the domain rows")
    check_equal(final.errors, errors, "final errors by code equal the domain rows")
    return table


def processed(path: Path) -> dict[int, Counter[str]]:
    """Attempts started, by process id and domain (``DOMAINBATCH_TEST_PROCESSED_LOG``)."""
    by_pid: dict[int, Counter[str]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            pid, domain = line.split()
            by_pid.setdefault(int(pid), Counter())[domain] += 1
    return by_pid


def worker(
    name: str, args: list[str], env: dict[str, str], logdir: Path, *, sabotaged: bool = False
) -> Child:
    """``domainbatch worker ARGS``; ``sabotaged``: the same CLI through reclaim_sabotage.py."""
    child = Child(name, ["worker", *args], env, logdir)
    if sabotaged:
        child.argv = [sys.executable, str(SABOTAGE), "worker", *args]
        log.warning("%s runs with the lease reclaim broken (--sabotage reclaim)", name)
    return child


def stats(child: Child) -> dict[str, int]:
    """The figures of the worker's last line (``worker done: N claimed, N succeeded, ...``)."""
    done = re.search(r"worker done: (.*)", child.output())
    check(done is not None, f"{child.name} reports its work when it stops", child.tail(5))
    assert done is not None
    figures = re.findall(r"([\d,]+) (claimed|succeeded|failed|retried|released)", done.group(1))
    return {name: int(n.replace(",", "")) for n, name in figures}
