#!/usr/bin/env python3
"""Soak check: the memory of one long-lived worker over MINUTES.

Starts the repository's local test web (HTTP, HTTPS, DNS on 127.0.0.1; never the internet) and
measures how fast a ``domainbatch worker --burst`` processes a calibration batch of
``*.bench.test`` sites with the ``homepage`` processor (fetch and extraction). Then creates
twice the domains one worker needs for its warm-up and MINUTES at that rate, in 12 batches of
growing sizes (the worker shares its slots fairly across batches, so the smallest end first
and batches end throughout the run), and starts ONE ``domainbatch worker --batch ID ...``
naming all of them and nothing else (never other batches of a shared database; not
``--burst``: it runs until stopped).

The warm-up lasts until the worker has processed 5,000 domains and at least 20 s: its RSS
climbs while its bounded caches fill, the last step when the resolver's cache reaches its
4,096 names (distinct domains). Then, for MINUTES, the RSS of the worker with its extraction
processes is printed every interval (a minute on runs of 12 minutes or more, a twelfth of the
run on shorter ones, never less than 5 s) as ``SOAK minute=M rss_mb=R``, minute 0 being the
end of the warm-up. At the end the worker is stopped (SIGTERM: it must exit 0) and every batch
deleted.

Fails when the RSS grew faster than the bound (least squares over the SOAK samples): 2 MB/min,
or 12 MB divided by MINUTES on runs shorter than 6 minutes, since a healthy worker's RSS
wanders by up to 8 MB in a minute (measured on SQLite, Postgres and PgBouncer; CI once saw a
single step of 7.9 MB, flat before and after, fit as 10.4 MB/min) and a short fit cannot tell
a smaller leak from that. Fails too when the worker died, when it starved (nothing
processed between two samples) or when a domain failed. Reports the slope, the domains
processed and the peak RSS.

    python scripts/testing/soak_test.py [--verbose] [--minutes 1] [--leak-mb-per-min X]

``--leak-mb-per-min X`` runs the worker with ``tests.support.processors:leaky``, the homepage
processor keeping X MB more every minute: a leaking worker, to see the script fail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from children import Child, check_clean_exit
from common import (
    Script,
    check,
    check_equal,
    local_web,
    log,
    main,
    metric,
    runtime,
    soak_sample,
    step,
    web_overrides,
)
from test_batch_e2e import child_env_for

from domainbatch.runtime import Runtime

CALIBRATION_DOMAINS = 400
MARGIN = 2.0  # twice the domains the calibrated rate needs: a worker faster than that starves
BATCHES = 12
WARM_UP_DOMAINS = 5_000
WARM_UP_SECONDS = 20.0
BOUND_MB_PER_MIN = 2.0
WANDER_MB = 12.0  # what a healthy worker's RSS may wander over a short run, with margin
LEAKY = "tests.support.processors:leaky"


@dataclass
class Sample:
    seconds: float  # since the worker started
    rss_mb: float
    done: int
    ended: int  # batches


def bound_for(minutes: float) -> float:
    return max(BOUND_MB_PER_MIN, WANDER_MB / minutes)


def interval_for(seconds: float) -> float:
    """A minute on runs of 12 minutes or more, a twelfth of the run on shorter ones, never
    less than 5 s."""
    return min(60.0, max(5.0, seconds / 12))


def slope_per_minute(samples: Sequence[Sample]) -> float:
    """Least squares slope of the RSS, MB per minute."""
    xs = [s.seconds / 60 for s in samples]
    ys = [s.rss_mb for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def tree_rss_mb(pid: int) -> float:
    """The RSS of a process and its descendants (the worker's extraction processes)."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / 2**20


Feed = tuple[str, dict[str, Any]]  # the processor of the batches, and their options


async def create(script: Script, rt: Runtime, names: list[str], feed: Feed) -> str:
    created = await rt.batches().create(names, processor=feed[0], options=feed[1])
    script.cleanup.batch(created.id)
    check_equal(created.total, len(names), "domains in the batch")
    return created.id


async def calibrate(
    script: Script, rt: Runtime, env: dict[str, str], logdir: Path, feed: Feed
) -> float:
    """Domains a second one worker processes here: a burst worker's calibration batch, timed
    from its first claim to its last domain (the worker's start-up left out)."""
    names = [f"cal{i}.bench.test" for i in range(CALIBRATION_DOMAINS)]
    batch_id = await create(script, rt, names, feed)
    worker = Child("calibration-worker", ["worker", "--burst", "--batch", batch_id], env, logdir)
    worker.start()
    try:
        code = await worker.wait(120)
    finally:
        await worker.shut_down()
    check_equal(code, 0, "the calibration worker's exit status")
    status = await rt.batches().status(batch_id)
    check_equal(status.counts.get("succeeded"), len(names), "calibration domains succeeded")
    assert status.duration_seconds is not None
    rate = len(names) / status.duration_seconds
    log.info("calibration: %d domains in %.2f s", len(names), status.duration_seconds)
    metric("soak_calibration_domains_per_second", rate, "domains/s")
    return rate


async def create_batches(
    script: Script, rt: Runtime, rate: float, seconds: float, feed: Feed
) -> list[str]:
    """Batches of sizes u, 2u, ... 12u holding MARGIN times what the warm-up and the run
    need at ``rate``."""
    needed = max(WARM_UP_DOMAINS, rate * WARM_UP_SECONDS) + rate * seconds
    unit = math.ceil(needed * MARGIN / (BATCHES * (BATCHES + 1) // 2))
    ids = [
        await create(script, rt, [f"s{j}-{i}.bench.test" for i in range(j * unit)], feed)
        for j in range(1, BATCHES + 1)
    ]
    total = unit * BATCHES * (BATCHES + 1) // 2
    log.info("%d batches, %d domains (%d to %d a batch)", BATCHES, total, unit, BATCHES * unit)
    return ids


async def take_sample(rt: Runtime, worker: Child, batch_ids: list[str], seconds: float) -> Sample:
    check(worker.running(), "the worker runs until stopped", f"it exited: {worker.tail(20)}")
    worker.sample_rss()
    rss = tree_rss_mb(worker.pid)
    done = succeeded = ended = 0
    for batch_id in batch_ids:
        status = await rt.batches().status(batch_id)
        done += status.done
        succeeded += status.counts.get("succeeded", 0)
        ended += status.status == "completed"
    # Every site of the bench web answers: a failure means fetching or extraction broke.
    check_equal(done - succeeded, 0, "domains failed")
    return Sample(seconds, rss, done, ended)


async def run_soak(
    rt: Runtime, worker: Child, batch_ids: list[str], seconds: float
) -> list[Sample]:
    """Sample the worker from its start through the warm-up, then for ``seconds`` more
    (printed as SOAK lines); returns the samples after the warm-up."""
    interval = interval_for(seconds)
    started = time.monotonic()
    previous = Sample(0.0, 0.0, 0, 0)
    measured: list[Sample] = []
    due = interval
    while not measured or measured[-1].seconds < measured[0].seconds + seconds - 0.5:
        await asyncio.sleep(max(0.0, started + due - time.monotonic()))
        sample = await take_sample(rt, worker, batch_ids, time.monotonic() - started)
        check(
            sample.done > previous.done,
            "the worker is kept busy",
            f"nothing processed between {previous.seconds:.0f} s and {sample.seconds:.0f} s "
            f"({sample.done} domains in all): starved",
        )
        previous = sample
        due += interval
        if not measured and (sample.done < WARM_UP_DOMAINS or sample.seconds < WARM_UP_SECONDS):
            log.info(
                "warm-up: %.0f s, %d domains, RSS %.1f MB",
                sample.seconds,
                sample.done,
                sample.rss_mb,
            )
            continue
        measured.append(sample)
        soak_sample((sample.seconds - measured[0].seconds) / 60, sample.rss_mb)
        due = min(due, measured[0].seconds + seconds)
    return measured


async def body(script: Script) -> None:
    minutes: float = script.args.minutes
    leak: float = script.args.leak_mb_per_min
    check(minutes > 0, "--minutes is positive", f"{minutes:g}")
    feed: Feed = (LEAKY, {"leak_mb_per_minute": leak}) if leak else ("homepage", {})
    with local_web() as web, tempfile.TemporaryDirectory() as tmp:
        settings = script.settings.with_overrides(**web_overrides(web))
        env = child_env_for(web, "domainbatch-soak-worker")
        # A fixed load: an adaptive level still climbing after the warm-up holds more domains
        # (and their pages) in flight, and its RSS grows with it (CI measured 18.8 MB/min).
        env.setdefault("DOMAINBATCH_CONCURRENCY", "32")
        async with runtime(settings) as rt:
            with step("calibrate: one worker's rate on this machine"):
                rate = await calibrate(script, rt, env, Path(tmp), feed)
            with step(f"create the batches for the warm-up and {minutes:g} minutes"):
                batch_ids = await create_batches(script, rt, rate, minutes * 60, feed)
            args = [x for batch_id in batch_ids for x in ("--batch", batch_id)]
            worker = Child("soak-worker", ["worker", *args], env, Path(tmp)).start()
            try:
                with step(f"one worker: a warm-up, then {minutes:g} minutes, RSS sampled"):
                    samples = await run_soak(rt, worker, batch_ids, minutes * 60)
            finally:
                await worker.shut_down()
            with step("the worker stops cleanly"):
                check_clean_exit(worker, (0,))
    with step("the RSS does not grow after the warm-up"):
        slope = slope_per_minute(samples)
        processed = samples[-1].done - samples[0].done
        span = samples[-1].seconds - samples[0].seconds
        log.info("%d of %d batches ended during the run", samples[-1].ended, BATCHES)
        metric("soak_rss_slope_mb_per_min", slope, "MB/min")
        metric("soak_domains", samples[-1].done)
        metric("soak_domains_per_second", processed / span, "domains/s")
        metric("soak_peak_rss_mb", max(s.rss_mb for s in samples), "MB")
        if worker.peak_rss_mb is not None:
            metric("soak_worker_peak_rss_mb", worker.peak_rss_mb, "MB")
        bound = bound_for(minutes)
        metric("soak_rss_slope_bound_mb_per_min", bound, "MB/min")
        check(
            slope <= bound,
            "the worker's memory stays flat",
            f"RSS grew {slope:.1f} MB/min, above the bound {bound:g} MB/min",
        )


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--minutes", type=float, default=1.0, help="How long to sample after the warm-up."
    )
    parser.add_argument(
        "--leak-mb-per-min",
        type=float,
        default=0.0,
        metavar="X",
        help="Negative control: the worker keeps X MB more every minute.",
    )


if __name__ == "__main__":
    main("soak_test", __doc__, body, arguments)
