"""Tenant A's batches through a real worker (``keyed_api.py`` starts the server and creates
them): a cancel over the API while the worker processes the batch, a retry over the API, and
the signed webhooks of every batch, checked at the receiver."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from api_client import Client
from children import Child, check_clean_exit, started
from common import (
    Script,
    check,
    check_equal,
    check_progress,
    domain_rows,
    log,
    report_of,
    runtime,
    step,
)
from webhook_receiver import Receiver

from domainbatch.runtime import Runtime

REPLY_LIMIT = 30.0  # seconds for any awaited state
CANCELLED = ["slow.test", "slowbody.test", *(f"keyed{i}.bench.test" for i in range(6))]
RETRIED = ["plain.test", "notfound.test"]
EVENTS = {  # the README: started, completed, failed, cancelled; a retried batch ends again
    "retried": ["batch.started", "batch.completed", "batch.completed"],
    "cancelled": ["batch.started", "batch.cancelled"],
    "invalid": ["batch.failed"],
}


async def process(
    script: Script, a: Client, tmp: Path, env: dict[str, str], mine: dict[str, str], rx: Receiver
) -> None:
    """A worker for A's batches: a cancel, a retry, the webhooks. The product delivers to a
    receiver on loopback only with ``allow_private_addresses``: this worker has it, and as a
    ``worker --batch`` it processes and posts the events of these batches alone."""
    # With the SSRF guard off, every host must stay on loopback: only `.test` names, which
    # RESOLVE_OVERRIDES pins to 127.0.0.1, and none of the test web's `to-*.test` hosts, which
    # redirect to metadata, private or literal addresses.
    fetched = [*CANCELLED, *RETRIED]
    check(
        all(name.endswith(".test") and not name.startswith("to-") for name in fetched),
        "the guard-off worker's batches stay on 127.0.0.1",
        ", ".join(fetched),
    )
    worker_env = {**env, "DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES": "true"}
    worker_env["DOMAINBATCH_DB_APPLICATION_NAME"] = "domainbatch-e2e-keyed-worker"
    batches = [x for batch_id in mine.values() for x in ("--batch", batch_id)]
    # Two slots: the slow sites, first in their batch, hold them while the rest wait to be
    # cancelled.
    worker = Child(
        "keyed-worker", ["worker", "--concurrency", "2", "-q", *batches], worker_env, tmp
    )
    async with runtime(script.settings) as rt, started(worker):
        await cancel_mid_processing(a, rt, mine["cancelled"])
        await retry_failed(a, rt, mine["retried"])
        await check_webhooks(rx, mine)
    check_clean_exit(worker, (0,))


async def until(what: str, probe: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``probe`` until it holds."""
    deadline = time.monotonic() + REPLY_LIMIT
    while True:
        if await probe():
            return
        check(time.monotonic() < deadline, f"{what} within {REPLY_LIMIT:g} s")
        await asyncio.sleep(0.02)


async def cancel_mid_processing(a: Client, rt: Runtime, batch_id: str) -> None:
    path = f"/v1/batches/{batch_id}"
    with step("cancel over the API while the worker processes the batch"):
        seen: dict[str, Any] = {}

        async def mid_processing() -> bool:
            seen.update(await a.ok("GET", path))
            check(seen["status"] in ("pending", "processing"), "the batch is still open", path)
            return bool(seen["counts"]["processing"] > 0 and seen["counts"]["pending"] > 0)

        await until("the batch in progress with domains pending", mid_processing)
        log.info("cancelling at %s", {k: v for k, v in seen["counts"].items() if v})
        done = await a.ok("POST", f"{path}/cancel")
        check_equal(done["status"], "cancelled", "the cancel answer's status")
        check(done["affected"] > 0, "pending domains were cancelled", str(done))

        async def settled() -> bool:
            seen.update(await a.ok("GET", path))
            return bool(seen["counts"]["pending"] + seen["counts"]["processing"] == 0)

        await until("the domains in flight finished", settled)
        check_progress(report_of(seen), "the cancelled batch")
        counts = {k: v for k, v in seen["counts"].items() if v}
        check_equal(seen["status"], "cancelled", "the batch's status")
        check_equal(counts.get("cancelled"), done["affected"], "cancelled domains")
        check_equal(sum(counts.values()), len(CANCELLED), "every domain ended")
        rows, errors = await domain_rows(rt, batch_id)
        check_equal((counts, seen["errors"]), (rows, errors), "counters = the domain rows")
        log.info("cancelled batch: %s, errors %s", counts, seen["errors"])


async def retry_failed(a: Client, rt: Runtime, batch_id: str) -> None:
    path = f"/v1/batches/{batch_id}"
    with step("retry over the API: the failed domain is processed again, the batch ends again"):

        async def ended() -> bool:
            return bool((await a.ok("GET", path))["status"] == "completed")

        await until("the batch completed", ended)
        before = {d["domain"]: d for d in (await a.ok("GET", f"{path}/domains"))["items"]}
        done = await a.ok("POST", f"{path}/retry")
        check_equal((done["status"], done["affected"]), ("processing", 1), "the retry's answer")
        await until("the retried batch completed again", ended)
        after = {d["domain"]: d for d in (await a.ok("GET", f"{path}/domains"))["items"]}
        again, kept = after["notfound.test"], after["plain.test"]
        check_equal(
            (again["status"], again["error_code"], again["attempts"]),
            ("failed", "http_status", 1),
            "notfound.test after the retry (fresh attempts, the same outcome)",
        )
        first = before["notfound.test"]
        check(again["started_at"] > first["finished_at"], "notfound.test was processed again")
        check_equal(kept, before["plain.test"], "plain.test is untouched by the retry")
        status = await a.ok("GET", path)
        counts = {k: v for k, v in status["counts"].items() if v}
        check_equal(counts, {"succeeded": 1, "failed": 1}, "the retried batch's counts")
        check_equal((counts, status["errors"]), await domain_rows(rt, batch_id), "counters = rows")


async def check_webhooks(receiver: Receiver, mine: dict[str, str]) -> None:
    with step("webhooks: every event arrived once, signed; a tampered copy does not verify"):

        async def arrived() -> bool:
            receiver.check_signatures()  # fails at the first delivery that did not verify
            return all(len(receiver.events(mine[k])) >= len(e) for k, e in EVENTS.items())

        await until("every expected webhook", arrived)
        await asyncio.sleep(0.5)  # a duplicate or a stray event would show up by now
        for label, events in EVENTS.items():
            check_equal(receiver.events(mine[label]), events, f"the {label} batch's webhooks")
        receiver.check_deliveries(set(mine.values()))
        kinds = Counter(d.event for d in receiver.deliveries)
        log.info("webhooks received and verified: %s", dict(kinds))
