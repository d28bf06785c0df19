#!/usr/bin/env python3
"""Batch creation check.

Creates batches with a single domain, several domains (duplicates, URLs, an internationalized
name), no domains (refused, nothing stored), invalid entries, only invalid entries (stored,
``failed`` at once), too many entries (refused whole) and an unknown processor (refused), then a
10,000-entry CSV streamed in chunks. For each stored batch it checks the returned id, the
status, the counts (total, entries, invalid, duplicates), the stored record read back, and the
domain rows themselves.

    python scripts/testing/test_batch_create.py [--verbose]
"""

from __future__ import annotations

import io
import time
import uuid
from typing import Any

from common import (
    Script,
    check,
    check_equal,
    check_progress,
    domain_rows,
    log,
    main,
    metric,
    nonzero,
    runtime,
    step,
)

from domainbatch.core.inputs import iter_entries
from domainbatch.core.models import BatchReport, DomainRecord
from domainbatch.errors import EmptyBatchError, LimitExceededError, ProcessorNotFoundError
from domainbatch.runtime import Runtime
from domainbatch.service import CreatedBatch

# Batches are created for the noop processor: should a worker of a live deployment take one
# before the cleanup, it does nothing to anybody.
PROCESSOR = "noop"


async def created(script: Script, rt: Runtime, entries: Any, **kwargs: Any) -> CreatedBatch:
    started = time.perf_counter()
    batch = await rt.batches().create(
        entries, processor=kwargs.pop("processor", PROCESSOR), **kwargs
    )
    script.cleanup.batch(batch.id)
    log.info(
        "created batch %s in %.1f ms: status %s, total %d, entries %d, invalid %d, duplicates %d",
        batch.id,
        (time.perf_counter() - started) * 1000,
        batch.status,
        batch.total,
        batch.entries,
        batch.invalid,
        batch.duplicates,
    )
    check_equal(str(uuid.UUID(batch.id)), batch.id, "the returned id is a UUID")
    return batch


def counts_of(batch: CreatedBatch) -> tuple[int, int, int, int]:
    return batch.total, batch.entries, batch.invalid, batch.duplicates


async def stored(rt: Runtime, batch: CreatedBatch, status: str) -> BatchReport:
    """Read the batch back as every reader does, and check it against the domain rows."""
    record = await rt.batches().status(batch.id)
    check_equal(record.id, batch.id, "the stored record has the returned id")
    check_equal(record.status, status, f"stored status of {batch.id}")
    check_equal(
        (record.total, record.invalid, record.duplicates),
        (batch.total, batch.invalid, batch.duplicates),
        "stored total, invalid and duplicates equal the creation response",
    )
    check_equal(record.processor, PROCESSOR, "stored processor")
    check(record.started_at is None, "no domain was claimed yet")
    check_progress(record, f"batch {batch.id}")
    counts, errors = await domain_rows(rt, batch.id)
    check_equal(nonzero(record.counts), counts, "counts by status equal the domain rows")
    check_equal(record.errors, errors, "errors by code equal the domain rows")
    return record


async def rows(rt: Runtime, batch_id: str) -> dict[str, DomainRecord]:
    return {d.input: d async for d in rt.batches().items(batch_id)}


async def nothing_stored_since(rt: Runtime, since: float) -> int:
    # A committed batch always has at least one domain (an empty one is refused), so a batch
    # row with total 0 can only be a refused creation that leaked.
    return await rt.system().empty_batches_since(since)


async def body(script: Script) -> None:
    settings = script.settings.with_overrides(extra_suffixes=["test"], strip_www=False)
    async with runtime(settings) as rt:
        since = await rt.system().clock()

        with step("a single domain"):
            batch = await created(script, rt, ["Single.test"])
            check_equal(batch.status, "pending", "status of a new batch")
            check_equal(counts_of(batch), (1, 1, 0, 0), "total, entries, invalid, duplicates")
            record = await stored(rt, batch, "pending")
            check_equal(record.progress, 0.0, "progress of a new batch")
            row = (await rows(rt, batch.id))["Single.test"]
            check_equal(row.domain, "single.test", "the domain is stored normalized")
            check_equal((row.status, row.attempts), ("pending", 0), "domain status")

        with step("several domains: URLs, duplicates, an internationalized name"):
            entries = [
                "alpha.test",
                "ALPHA.test.",
                "https://Beta.test/path?q=1",
                "http://user@alpha.test:8080/",
                "gamma.test",
                "www.gamma.test",
                "Bücher.test",
            ]
            batch = await created(script, rt, entries)
            check_equal(counts_of(batch), (5, 7, 0, 2), "total, entries, invalid, duplicates")
            record = await stored(rt, batch, "pending")
            check_equal(record.counts["pending"], 5, "pending domains")
            found = {r.domain: r for r in (await rows(rt, batch.id)).values()}
            expected = {"alpha.test", "beta.test", "gamma.test", "www.gamma.test"}
            check_equal(set(found), expected | {"xn--bcher-kva.test"}, "stored domains")
            check_equal(found["xn--bcher-kva.test"].display, "bücher.test", "display form")

        with step("no domains: refused, nothing stored"):
            for label, source in (
                ("an empty list", []),
                ("a text file of comments", iter_entries(io.BytesIO(b"# none\n\n"), fmt="text")),
            ):
                try:
                    await created(script, rt, source)
                except EmptyBatchError as exc:
                    log.info("%s refused: %s", label, exc.message)
                else:
                    check(False, f"{label} is refused")
            check_equal(await nothing_stored_since(rt, since), 0, "empty batches stored")

        with step("invalid entries among valid ones"):
            invalid = [
                "localhost",
                "10.0.0.1",
                "[::1]",
                "bad_name.test",
                "a..b.test",
                "-lead.test",
                "com",
                "x" * 64 + ".test",
            ]
            batch = await created(script, rt, ["ok.test", *invalid])
            check_equal(batch.status, "pending", "a batch with some valid domains waits")
            check_equal(counts_of(batch), (9, 9, 8, 0), "total, entries, invalid, duplicates")
            reasons = {e["input"]: e["reason"] for e in batch.invalid_entries}
            check_equal(set(reasons), set(invalid), "every invalid entry is reported")
            check(all(reasons.values()), "every invalid entry has a reason", str(reasons))
            record = await stored(rt, batch, "pending")
            check_equal(record.progress, 88.88, "progress counts invalid entries as done")
            stored_rows = await rows(rt, batch.id)
            for raw, reason in reasons.items():
                row = stored_rows[raw]
                check_equal(
                    (row.status, row.error_code, row.error_message),
                    ("invalid", "invalid_domain", reason),
                    f"stored row of {raw!r}",
                )

        with step("only invalid entries: stored, and failed at once"):
            batch = await created(script, rt, ["localhost", "1.2.3.4", "nodots"])
            check_equal(batch.status, "failed", "status of an all-invalid batch")
            check_equal(counts_of(batch), (3, 3, 3, 0), "total, entries, invalid, duplicates")
            record = await rt.batches().status(batch.id)
            check_progress(record, f"batch {batch.id}")
            check_equal(record.status, "failed", "stored status")
            check_equal(record.error, "every entry is invalid", "the stored reason")
            check_equal(record.progress, 100.0, "progress of an all-invalid batch")

        with step("more entries than max_entries: refused whole"):
            limited = Runtime(settings.with_overrides(max_entries=5, insert_chunk_size=2))
            try:
                await created(script, limited, [f"d{i}.test" for i in range(6)])
            except LimitExceededError as exc:
                log.info("refused: %s", exc.message)
            else:
                check(False, "a batch over max_entries is refused")
            finally:
                await limited.close()
            check_equal(await nothing_stored_since(rt, since), 0, "partial batches stored")

        with step("an unknown processor: refused before anything is stored"):
            try:
                await created(script, rt, ["a.test"], processor="no-such-processor")
            except ProcessorNotFoundError as exc:
                log.info("refused: %s", exc.message)
            else:
                check(False, "a batch for an unknown processor is refused")

        with step("10,000 CSV entries streamed in chunks"):
            lines = ["company,website"]
            lines += [f"Co {i},https://site{i}.test/" for i in range(9_800)]
            lines += [f"Dup {i},SITE{i}.test" for i in range(100)]
            lines += [f"Bad {i},bad_{i}.test" for i in range(100)]
            source = io.BytesIO("\n".join(lines).encode())
            started = time.perf_counter()
            batch = await created(script, rt, iter_entries(source, fmt="csv"))
            elapsed = time.perf_counter() - started
            metric("create_entries_per_second", batch.entries / elapsed, "entries/s")
            check_equal(
                counts_of(batch), (9_900, 10_000, 100, 100), "total, entries, invalid, duplicates"
            )
            record = await stored(rt, batch, "pending")
            check_equal(record.counts["pending"], 9_800, "pending domains")


if __name__ == "__main__":
    main("test_batch_create", __doc__, body)
