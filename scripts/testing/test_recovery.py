#!/usr/bin/env python3
"""Crash recovery check: a worker that dies or is stopped loses no domain, and no domain is
processed again unless the crash made it unavoidable.

Workers are ``domainbatch worker --batch ID`` subprocesses (never another batch of the
database) running the test processor ``tests.support.processors:scripted``, which logs every
attempt as it starts (``DOMAINBATCH_TEST_PROCESSED_LOG``): 8 domains at a time, a 3 s lease.

1. SIGKILL mid-batch (300 domains, 0.25 s each): once some are done and some in flight, the
   worker is killed; the domains it held (rows ``processing`` under its lease) are recorded. A
   second worker (``--burst``) must take them back once their leases expire and finish the
   batch: completed, every domain once and succeeded, counters equal to the domain rows, 2
   attempts for exactly the held domains and 1 for the others, none taken before its lease
   expired, and the processed log shows exactly the held domains the killed worker had
   started processed twice, every other domain once.
2. SIGTERM with work in flight (120 domains, some ``slow-*`` that outlast the 2 s grace): the
   worker must exit 0 within its grace, nothing left ``processing``, quick domains finished,
   the slow ones released back to ``pending`` with their attempt given back (attempts 0); a
   second worker finishes the batch: every domain succeeded with 1 attempt, only the released
   ones processed twice.

Prints ``RECOVERY worker_killed=S ...`` (from the kill until the last reclaimed domain is done)
and ``RECOVERY worker_terminated=S ...`` (from SIGTERM until the last released one is done).
``--sabotage reclaim`` runs the takeover worker with its lease reclaim broken
(reclaim_sabotage.py): the script must then fail, naming the domains never reclaimed.

    python scripts/testing/test_recovery.py [--verbose] [--sabotage reclaim]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import holdings
from children import Child, no_traceback, started
from common import CheckFailed, Script, check, check_equal, log, main, recovery, runtime, step
from holdings import Table, finish, held, succeeded, summary, until
from tests.support.processes import child_env

from domainbatch.core.status import DomainStatus
from domainbatch.runtime import Runtime

SCRIPTED = "tests.support.processors:scripted"
CONCURRENCY = 8
LEASE_SECONDS = 3.0
GRACE_SECONDS = 2.0
MAX_ATTEMPTS = 3  # a reclaimed domain has attempts left (else the reclaim fails it)
KILL_DOMAINS, KILL_DELAY, KILL_AFTER = 300, 0.25, 60  # kill once 60 are done
TERM_DOMAINS, TERM_DELAY, TERM_AFTER = 120, 0.2, 10
# Two slow-* domains, claimed first, outlast the grace by 3 s: in flight at SIGTERM, released.
SLOW, SLOW_SECONDS = (0, 10), 5.0
START_WAIT = 60.0  # for a worker to get to the moment of the kill or of SIGTERM
RECLAIM_WAIT = 20.0  # from the kill: the lease, the sweep interval and a worker's start-up
FINISH_WAIT = 60.0
EXIT_MARGIN = 5.0  # after the grace: releasing, the last acknowledgements, closing the pool


def worker_env(processed_log: Path) -> dict[str, str]:
    return child_env(
        DOMAINBATCH_LEASE_SECONDS=f"{LEASE_SECONDS:g}",
        DOMAINBATCH_SHUTDOWN_GRACE_SECONDS=f"{GRACE_SECONDS:g}",
        DOMAINBATCH_POLL_MIN_SECONDS="0.02",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_DB_APPLICATION_NAME="domainbatch-recovery-worker",
        DOMAINBATCH_TEST_PROCESSED_LOG=str(processed_log),
        COLUMNS="200",
    )


async def create(script: Script, rt: Runtime, names: list[str], options: dict[str, float]) -> str:
    created = await rt.batches().create(names, processor=SCRIPTED, options=options)
    script.cleanup.batch(created.id)
    check_equal(created.total - created.invalid, len(names), "valid domains stored")
    return created.id


async def reclaimed(
    rt: Runtime, batch_id: str, hand: Table, victim_id: str | None, rescuer: Child
) -> None:
    """Wait (bounded) until no domain is still the killed worker's."""
    deadline = time.monotonic() + RECLAIM_WAIT
    while True:
        table = await holdings.rows(rt, batch_id)
        left = [
            x
            for x in hand
            if table[x].status == DomainStatus.PROCESSING and table[x].worker_id == victim_id
        ]
        if not left:
            return
        if time.monotonic() > deadline:
            raise CheckFailed(
                f"{len(left)} domains held by the killed worker were never reclaimed "
                f"(lease {LEASE_SECONDS:g} s, waited {RECLAIM_WAIT:g} s)"
            )
        check(rescuer.running(), f"{rescuer.name} runs until it reclaimed them", rescuer.tail(5))
        await asyncio.sleep(0.1)


async def killed_worker(script: Script, rt: Runtime, tmp: Path, *, sabotaged: bool) -> None:
    names = [f"k{i}.test" for i in range(KILL_DOMAINS)]
    batch_id = await create(script, rt, names, {"delay": KILL_DELAY})
    processed_log = tmp / "killed.processed"
    env = worker_env(processed_log)
    args = ["--batch", batch_id, "--concurrency", str(CONCURRENCY)]
    victim = holdings.worker("victim", args, env, tmp)
    async with started(victim):

        def mid_batch(table: Table) -> bool:
            return len(succeeded(table)) >= KILL_AFTER and bool(held(table))

        await until(rt, batch_id, victim, mid_batch, f"{KILL_AFTER} done", START_WAIT)
        killed_at = await rt.system().clock()
        assert victim.proc is not None
        victim.proc.send_signal(signal.SIGKILL)
        check_equal(await victim.wait(10), -signal.SIGKILL, "the victim's exit (SIGKILL)")
    at_kill = await holdings.settled_rows(rt, batch_id)
    # In hand at the kill: the domains it was processing, those claimed but not started, and
    # those finished but not yet acknowledged (outcomes wait in memory for the next flush):
    # all lost with it, all still `processing` under its lease.
    hand = held(at_kill)
    holders = {row.worker_id for row in hand.values()}
    check(len(holders) == 1, "the killed worker alone held domains", f"holders {holders}")
    (victim_id,) = holders
    expiry = [r.lease_expires_at or 0.0 for r in hand.values()]
    log.info(
        "at the kill: %s; %d held by %s, leases expiring %.2f..%.2f s after the kill",
        summary(at_kill),
        len(hand),
        victim_id,
        min(expiry) - killed_at,
        max(expiry) - killed_at,
    )
    rescuer = holdings.worker("rescuer", ["--burst", *args], env, tmp, sabotaged=sabotaged)
    async with started(rescuer):
        await reclaimed(rt, batch_id, hand, victim_id, rescuer)
        table = await finish(rt, batch_id, rescuer, names, FINISH_WAIT)

    # Exactly the held domains were attempted again: each was claimed by the killed worker
    # (attempts 1), taken back by the reclaim and claimed by the rescuer (attempts 2); every
    # other domain was either acknowledged by the killed worker or first claimed by the rescuer.
    attempts = {x: r.attempts for x, r in table.items()}
    check_equal({x for x, n in attempts.items() if n == 2}, set(hand), "domains with 2 attempts")
    check_equal(set(attempts.values()), {1, 2}, "attempts: 1, or 2 for the held domains")
    early = [x for x in hand if (table[x].started_at or 0) < (hand[x].lease_expires_at or 0)]
    check_equal(early, [], "held domains taken back before their lease expired")
    check_equal(len({r.worker_id for r in table.values()}), 2, "workers that finished domains")
    check(victim_id not in {table[x].worker_id for x in hand}, "the rescuer finished the held ones")

    by_pid = holdings.processed(processed_log)
    check(set(by_pid) <= {victim.pid, rescuer.pid}, "only the two workers processed the batch")
    by_victim, by_rescuer = by_pid.get(victim.pid, Counter()), by_pid.get(rescuer.pid, Counter())
    check_equal(max([*by_victim.values(), *by_rescuer.values()]), 1, "starts per domain per worker")
    open_at_kill = set(at_kill) - succeeded(at_kill)
    check_equal(
        set(by_rescuer), open_at_kill, "the rescuer processed what was not done at the kill"
    )
    twice = {x for x, n in (by_victim + by_rescuer).items() if n == 2}
    check_equal(twice, set(hand) & set(by_victim), "processed twice: the held ones it had started")
    check(bool(twice), "the kill interrupted work in flight", f"{len(hand)} held, none started")

    starts = sorted((table[x].started_at or 0) - killed_at for x in hand)
    back, seconds = starts[0], max(table[x].finished_at or 0 for x in hand) - killed_at
    ended = max(r.finished_at or 0 for r in table.values()) - killed_at
    log.info(
        "held domains back in work %.2f..%.2f s after the kill, the last done after %.2f s "
        "(the batch's last after %.2f s)",
        back,
        starts[-1],
        seconds,
        ended,
    )
    recovery(
        "worker_killed",
        seconds,
        f"{len(hand)} domains held by the killed worker reclaimed after the {LEASE_SECONDS:g} s "
        f"lease (first back in work after {back:.1f} s), {len(twice)} of them processed twice; "
        f"{len(table)}/{len(names)} succeeded",
    )


async def terminated_worker(script: Script, rt: Runtime, tmp: Path) -> None:
    names = [f"slow-t{i}.test" if i in SLOW else f"t{i}.test" for i in range(TERM_DOMAINS)]
    batch_id = await create(script, rt, names, {"delay": TERM_DELAY, "slow": SLOW_SECONDS})
    processed_log = tmp / "terminated.processed"
    env = worker_env(processed_log)
    args = ["--batch", batch_id, "--concurrency", str(CONCURRENCY)]
    stopped = holdings.worker("stopped", args, env, tmp)
    async with started(stopped):

        def slow_in_flight(table: Table) -> bool:
            return len(succeeded(table)) >= TERM_AFTER and any(
                x.startswith("slow-") for x in held(table)
            )

        hand = held(
            await until(rt, batch_id, stopped, slow_in_flight, "a slow one in flight", START_WAIT)
        )
        signalled_at = await rt.system().clock()
        signalled = time.monotonic()
        assert stopped.proc is not None
        stopped.proc.send_signal(signal.SIGTERM)
        limit = GRACE_SECONDS + EXIT_MARGIN
        code = await stopped.wait(limit)
        exit_seconds = time.monotonic() - signalled
        check(
            code is not None,
            f"the worker exits within {limit:g} s of SIGTERM (grace {GRACE_SECONDS:g} s)",
        )
        check_equal(code, 0, "the worker's exit status after SIGTERM")
    no_traceback(stopped)
    figures = holdings.stats(stopped)
    after = await holdings.rows(rt, batch_id)
    check_equal(held(after), {}, "domains left processing after the worker stopped")
    # A released domain goes back to pending with its attempt given back (release undoes the
    # claim's attempts + 1); it keeps the started_at of that claim, which tells it apart from
    # a domain never claimed.
    pending = {x for x, r in after.items() if r.status == DomainStatus.PENDING}
    released = {x for x in pending if after[x].started_at is not None}
    started_by_it = set(holdings.processed(processed_log).get(stopped.pid, Counter()))
    check_equal(len(released), figures.get("released"), "released domains, as the worker reported")
    check(bool(released), "the worker had work in flight to release", summary(after))
    check_equal({after[x].attempts for x in pending}, {0}, "attempts of the pending domains")
    check(released <= started_by_it, "only domains in flight were released", str(sorted(released)))
    slow = {x for x in released if x.startswith("slow-")}
    check_equal(released, slow, "released: only slow domains (quick ones finish in the grace)")
    finished = started_by_it - released
    check_equal(
        succeeded(after),
        finished,
        "succeeded: the rest of its work",
    )
    log.info(
        "SIGTERM with %d in hand: exit 0 after %.2f s; %d finished in all, %d released: %s",
        len(hand),
        exit_seconds,
        len(finished),
        len(released),
        ", ".join(sorted(released)),
    )

    successor = holdings.worker("successor", ["--burst", *args], env, tmp)
    async with started(successor):
        table = await finish(rt, batch_id, successor, names, FINISH_WAIT)
    check_equal(
        {r.attempts for r in table.values()}, {1}, "attempts (a released one not counted twice)"
    )
    by_pid = holdings.processed(processed_log)
    check(set(by_pid) <= {stopped.pid, successor.pid}, "only the two workers processed the batch")
    by_successor = by_pid.get(successor.pid, Counter())
    check_equal(set(by_successor), pending, "the successor processed what was pending, once each")
    check_equal(max(by_successor.values()), 1, "starts per domain by the successor")
    twice = {x for x, n in (by_pid.get(stopped.pid, Counter()) + by_successor).items() if n == 2}
    check_equal(twice, released, "processed twice: exactly the released domains")
    seconds = max(table[x].finished_at or 0 for x in released) - signalled_at
    recovery(
        "worker_terminated",
        seconds,
        f"worker exited 0 {exit_seconds:.1f} s after SIGTERM (grace {GRACE_SECONDS:g} s): "
        f"{len(released)} slow domains in flight released with their attempt given back, the "
        f"others finished; the next worker took them over; {len(table)}/{len(names)} "
        "succeeded, 1 attempt each",
    )


async def body(script: Script) -> None:
    settings = script.settings.with_overrides(max_attempts=MAX_ATTEMPTS, extra_suffixes=["test"])
    sabotaged = script.args.sabotage == "reclaim"
    async with runtime(settings) as rt:
        with tempfile.TemporaryDirectory(prefix="domainbatch-recovery-") as tmp:
            with step("SIGKILL mid-batch: a second worker reclaims the dead worker's domains"):
                await killed_worker(script, rt, Path(tmp), sabotaged=sabotaged)
            with step("SIGTERM with work in flight: finished or released, then taken over"):
                await terminated_worker(script, rt, Path(tmp))


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sabotage",
        choices=["reclaim"],
        help="Negative control: the takeover worker's lease reclaim does nothing (must fail).",
    )


if __name__ == "__main__":
    main("test_recovery", __doc__, body, arguments)
