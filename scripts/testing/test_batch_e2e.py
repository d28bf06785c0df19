#!/usr/bin/env python3
"""End-to-end check over the HTTP API.

Starts ``domainbatch serve`` (a subprocess on a free 127.0.0.1 port, ``--no-auth``, API only)
and the repository's local test web (HTTP, HTTPS, DNS on 127.0.0.1), then does what a client
does: refused requests (an empty batch, an unknown processor, an unknown batch); a mixed batch
with duplicates, invalid entries, a slow site cut by a per-batch ``total_timeout``, an oversized
page and a gzip bomb (``too_large``), a 404 and a missing domain; a batch of invalid entries
only; and a large batch (1,000 domains plus duplicates and invalid entries, sent as text/plain).
A ``domainbatch worker --burst --batch ...`` subprocess processes exactly these batches (so a
shared database's other batches are never touched by this script's test-web settings).

Checks each batch passes through every expected state (pending before the worker, processing,
then completed or failed) with progress equal to terminal/total at every observation, the
live event stream (SSE) of the mixed batch, and the final per-domain results (domain list with
cursor pagination, JSONL and CSV export). Reports domains/s, peak RSS of the worker and the
server, and status-read latency over HTTP.

Then the keyed API (``keyed_api.py``): a second server with API keys, two tenants' keys from
``domainbatch keys create``, 401 without a valid key, tenant isolation (404 on every route of
another tenant's batch, lists of one's own batches), signed webhooks verified by a receiver run
here as the README tells users to, a cancel while a worker processes the batch, a retry, and a
key revoked with ``domainbatch keys revoke``. ``--bad-webhook-secret`` is its negative control:
the receiver verifies with a wrong secret, and the script must fail.

    python scripts/testing/test_batch_e2e.py [--verbose] [--domains 1000] [--processor NAME]
                                             [--bad-webhook-secret]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import keyed_api
from children import Child, check_clean_exit, started, wait_ready
from common import (
    Script,
    check,
    check_equal,
    check_progress,
    latency_metrics,
    local_web,
    log,
    main,
    metric,
    report_of,
    runtime,
    step,
)
from tests.support.processes import child_env
from tests.support.servers import free_port

SLOW_SECONDS = 4.0  # slow.test answers after this; the mixed batch allows 2 s per fetch
FETCH_LIMIT = 2.0
MAX_ATTEMPTS = 2
OK = ("succeeded", None)
INVALID = ("invalid", "invalid_domain")
ACTIVE = ("pending", "processing")

MIXED: dict[str, tuple[str, str | None]] = {
    "plain.test": OK,
    "WordPress.test": OK,
    "https://shop.test/products?ref=e2e": OK,
    "slow.test": ("failed", "timeout"),
    "huge.test": ("failed", "too_large"),
    "bomb.test": ("failed", "too_large"),
    "notfound.test": ("failed", "http_status"),
    "nx-missing.example": ("failed", "dns_nxdomain"),
    "localhost": INVALID,
    "not a domain": INVALID,
    "192.0.2.1": INVALID,
}
MIXED_DUPLICATES = ["PLAIN.test.", "http://plain.test/about"]


def child_env_for(web: Any, app: str, processor: str | None = None) -> dict[str, str]:
    env = child_env(**web.env())  # the repository importable: dotted-path test processors
    env.update(
        DOMAINBATCH_DB_APPLICATION_NAME=app,
        DOMAINBATCH_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        DOMAINBATCH_RETRY_BASE_SECONDS="0.2",
        DOMAINBATCH_RETRY_MAX_SECONDS="0.5",
        DOMAINBATCH_POLL_MIN_SECONDS="0.02",
        DOMAINBATCH_POLL_MAX_SECONDS="0.2",
        DOMAINBATCH_ACK_INTERVAL_SECONDS="0.1",
        DOMAINBATCH_EVENTS_INTERVAL_SECONDS="0.2",
        DOMAINBATCH_TOTAL_TIMEOUT="10",
        DOMAINBATCH_CONNECT_TIMEOUT="3",
        DOMAINBATCH_DNS_TIMEOUT="2",
        DOMAINBATCH_MAX_BODY_BYTES="1000000",
        COLUMNS="200",
    )
    if processor is not None:
        # An API caller may name only registered processors or the server's default: the
        # script's processor (a dotted path in negative tests) is made the server's default.
        env["DOMAINBATCH_DEFAULT_PROCESSOR"] = processor
    return env


class Api:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.latencies: list[float] = []

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.base + path, **kwargs) as response:
            body = await response.read()
            kind = response.headers.get("content-type", "")
            is_json = kind.startswith("application/json") and body
            data: Any = json.loads(body) if is_json else body.decode()
            return response.status, data

    async def status(self, batch_id: str) -> dict[str, Any]:
        started = time.perf_counter()
        code, data = await self.request("GET", f"/v1/batches/{batch_id}")
        self.latencies.append(time.perf_counter() - started)
        check_equal(code, 200, f"GET /v1/batches/{batch_id} status code ({data})")
        result: dict[str, Any] = data
        return result

    async def create(self, **kwargs: Any) -> dict[str, Any]:
        code, data = await self.request("POST", "/v1/batches", **kwargs)
        check_equal(code, 201, f"POST /v1/batches status code ({str(data)[:300]})")
        created: dict[str, Any] = data
        return created

    async def domains(self, batch_id: str, page: int) -> list[dict[str, Any]]:
        """Every domain of a batch, following next_cursor page by page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = f"?limit={page}" + (f"&cursor={cursor}" if cursor else "")
            code, data = await self.request("GET", f"/v1/batches/{batch_id}/domains{query}")
            check_equal(code, 200, f"GET domains page status code ({data})")
            items += data["items"]
            cursor = data["next_cursor"]
            if cursor is None:
                return items


def sequence(statuses: list[str]) -> list[str]:
    seen: list[str] = []
    for status in statuses:
        if not seen or seen[-1] != status:
            seen.append(status)
    return seen


def check_observations(label: str, seen: list[dict[str, Any]], final: str) -> None:
    for i, status in enumerate(seen, 1):
        check_progress(report_of(status), f"{label} batch, observation {i} ({status['status']})")
        if i > 1:
            check(status["done"] >= seen[i - 2]["done"], f"{label}: done never goes back")
    states = sequence([s["status"] for s in seen])
    log.info("%s batch: %d observations: %s", label, len(seen), " -> ".join(states))
    check_equal(states, ["pending", "processing", final], f"{label} batch: statuses seen")


async def read_events(api: Api, batch_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The batch's Server-Sent Events until the server ends the stream."""
    events: list[tuple[str, dict[str, Any]]] = []
    timeout = aiohttp.ClientTimeout(total=300, sock_read=60)
    url = f"{api.base}/v1/batches/{batch_id}/events"
    async with api.http.get(url, timeout=timeout) as response:
        check_equal(response.status, 200, "GET events status code")
        kind = response.headers.get("content-type", "")
        check(kind.startswith("text/event-stream"), "events are an event stream", kind)
        event, data = "", []
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and event:
                events.append((event, json.loads("\n".join(data))))
                event, data = "", []
    return events


async def body(script: Script) -> None:
    n_large: int = script.args.domains
    processor: str = script.args.processor
    if n_large < 1000:
        log.warning("--domains %d: the test plan asks for at least 1,000", n_large)
    async with runtime(script.settings):
        pass  # the database answers and has the schema, before anything is started
    with local_web(slow_seconds=SLOW_SECONDS) as web, tempfile.TemporaryDirectory() as tmp:
        from tests.testweb import pages

        # Build the gzip bomb now (a CRC pass over 1 GiB): built on its first request, it would
        # stall the test web's loop, and the fetches waiting on it, for a second.
        await asyncio.to_thread(pages.gzip_bomb)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        serve = Child(
            "server",
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-auth", "--no-worker", "-q"],
            child_env_for(web, "domainbatch-e2e-server", processor),
            Path(tmp),
        )
        timeout = aiohttp.ClientTimeout(total=120)
        async with started(serve), aiohttp.ClientSession(timeout=timeout) as http:
            api = Api(http, base)
            with step("the API server starts and is ready"):
                await wait_ready(base, serve)
                check_equal(
                    await api.request("GET", "/healthz"), (200, {"status": "ok"}), "healthz"
                )
            await refused_requests(api)
            mixed, invalid, large = await create_batches(script, api, processor, n_large)
            with step("before any worker: pending (and failed for the all-invalid batch)"):
                seen_mixed = [await api.status(mixed["id"])]
                seen_large = [await api.status(large["id"])]
                for status in (seen_mixed[0], seen_large[0]):
                    check_equal(status["status"], "pending", "status before any worker")
                check_equal(seen_mixed[0]["progress"], 27.27, "mixed: progress (3 invalid of 11)")
                final = await api.status(invalid["id"])
                check_progress(report_of(final), "all-invalid batch")
                check_equal(
                    (final["status"], final["progress"], final["error"]),
                    ("failed", 100.0, "every entry is invalid"),
                    "all-invalid batch: status, progress, reason",
                )
            # The mixed batch first, alone: its 2 s fetch limit must cut the slow site only,
            # never a site slowed down by a thousand fetches running beside it.
            with step("a worker processes the mixed batch; the large one stays pending"):
                events = asyncio.create_task(read_events(api, mixed["id"]))
                first = await process(api, web, tmp, serve, [("mixed", mixed["id"], seen_mixed)])
                # Outcomes first: a wrong one says more than a wrong batch status.
                await check_mixed(api, mixed["id"], first.claimed)
                check_observations("mixed", seen_mixed, "completed")
                check_event_stream(await asyncio.wait_for(events, 60))
                still = await api.status(large["id"])
                check_equal(still["status"], "pending", "the large batch, not named, is untouched")
                seen_large.append(still)
            with step(f"a worker processes the large batch ({n_large:,} domains)"):
                worker = await process(api, web, tmp, serve, [("large", large["id"], seen_large)])
                # Each valid domain once; more only if a fetch hit a transient error.
                check(worker.claimed >= n_large, "claims made", f"{worker.claimed}")
                check_observations("large", seen_large, "completed")
            await check_large(api, large["id"], n_large)
            with step("performance figures"):
                large_final = seen_large[-1]
                seconds = large_final["duration_seconds"]
                metric("e2e_large_batch_seconds", seconds, "s")
                metric("e2e_domains_per_second", n_large / seconds, "domains/s")
                if worker.child.peak_rss_mb is not None:
                    metric("e2e_worker_peak_rss_mb", worker.child.peak_rss_mb, "MB")
                if serve.peak_rss_mb is not None:
                    metric("e2e_server_peak_rss_mb", serve.peak_rss_mb, "MB")
                latency_metrics("e2e_status_latency_ms", api.latencies)
        check_clean_exit(serve)
        env = child_env_for(web, "domainbatch-e2e-keyed", processor)
        await keyed_api.check_keyed_api(script, Path(tmp), env)


@dataclass
class Processed:
    child: Child
    claimed: int


async def process(
    api: Api, web: Any, tmp: str, serve: Child, watched: list[tuple[str, str, list[dict[str, Any]]]]
) -> Processed:
    """Run ``domainbatch worker --burst --batch ...`` for these batches, reading their status
    over HTTP every 0.1 s until they end; the worker must then exit 0 by itself."""
    args = [x for _, batch_id, _ in watched for x in ("--batch", batch_id)]
    worker = Child(
        f"worker-{watched[0][0]}",
        ["worker", "--burst", "--quiet", "--concurrency", "50", *args],
        child_env_for(web, "domainbatch-e2e-worker"),
        Path(tmp),
    )
    async with started(worker):
        deadline = time.monotonic() + 240
        while True:
            exited = not worker.running()
            for _, batch_id, seen in watched:
                seen.append(await api.status(batch_id))
            worker.sample_rss()
            serve.sample_rss()
            states = ", ".join(f"{label} {seen[-1]['status']}" for label, _, seen in watched)
            if not any(seen[-1]["status"] in ACTIVE for _, _, seen in watched):
                break
            check(not exited, "the worker ends only when its batches ended", states)
            check(time.monotonic() < deadline, "the batches end within 240 s", states)
            await asyncio.sleep(0.1)
        check_equal(await worker.wait(60), 0, "the worker's exit status (--burst)")
        done = re.search(r"worker done: ([\d,]+) claimed", worker.tail())
        check(done is not None, "the worker reports its work", worker.tail(5))
        assert done is not None
        claimed = int(done.group(1).replace(",", ""))
        log.info("%s: %s", worker.name, done.group(0))
    return Processed(worker, claimed)


async def refused_requests(api: Api) -> None:
    with step("refused requests: empty batches, an unknown processor, an unknown batch"):
        for label, kwargs in (
            ("an empty JSON list", {"json": {"domains": []}}),
            (
                "a text body of comments",
                {"data": b"# nothing here\n\n", "headers": {"Content-Type": "text/plain"}},
            ),
        ):
            code, data = await api.request("POST", "/v1/batches", **kwargs)
            log.info("%s: %s %s", label, code, data)
            check_equal((code, data.get("code")), (422, "empty_batch"), f"{label} is refused")
        code, data = await api.request(
            "POST", "/v1/batches", json={"domains": ["a.test"], "processor": "no-such-processor"}
        )
        check_equal((code, data.get("code")), (422, "unknown_processor"), "unknown processor")
        code, data = await api.request("GET", f"/v1/batches/{uuid.uuid4()}")
        check_equal((code, data.get("code")), (404, "not_found"), "an unknown batch")


async def create_batches(
    script: Script, api: Api, processor: str, n_large: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    extra = {"processor": processor}
    with step("create a mixed batch (JSON, per-batch total_timeout of 2 s)"):
        entries = [*MIXED, *MIXED_DUPLICATES]
        mixed = await api.create(
            json={"domains": entries, "options": {"total_timeout": FETCH_LIMIT}, **extra}
        )
        script.cleanup.batch(mixed["id"])
        counts = (mixed["total"], mixed["entries"], mixed["invalid"], mixed["duplicates"])
        check_equal(counts, (11, 13, 3, 2), "mixed: total, entries, invalid, duplicates")
        check_equal(mixed["status"], "pending", "mixed: status")
        check(mixed["status_url"].endswith(f"/v1/batches/{mixed['id']}"), "a status URL")
        reasons = {e["input"]: e["reason"] for e in mixed["invalid_entries"]}
        invalid = {k for k, v in MIXED.items() if v == INVALID}
        check_equal(set(reasons), invalid, "mixed: invalid entries reported")
        check(all(reasons.values()), "each invalid entry has a reason", str(reasons))
    with step("create a batch of invalid entries only"):
        created = await api.create(json={"domains": ["localhost", "-x-.test", "10.1.2.3"], **extra})
        script.cleanup.batch(created["id"])
        check_equal((created["status"], created["invalid"]), ("failed", 3), "status, invalid")
    with step(f"create a large batch: {n_large:,} domains as text/plain"):
        lines = [f"site{i}.bench.test" for i in range(n_large)]
        lines += [f"SITE{i}.bench.test." for i in range(5)]  # duplicates
        lines += [f"bad_{i}.bench.test" for i in range(5)]  # invalid
        text = "# a large batch\n" + "\n".join(lines) + "\n"
        large = await api.create(
            data=text.encode(),
            headers={"Content-Type": "text/plain"},
            params={"processor": processor},
        )
        script.cleanup.batch(large["id"])
        counts = (large["total"], large["entries"], large["invalid"], large["duplicates"])
        check_equal(
            counts, (n_large + 5, n_large + 10, 5, 5), "large: total, entries, invalid, dup"
        )
    return mixed, created, large


def check_event_stream(stream: list[tuple[str, dict[str, Any]]]) -> None:
    kinds = Counter(kind for kind, _ in stream)
    log.info("event stream of the mixed batch: %s", dict(kinds))
    check(kinds["progress"] >= 2, "several progress events were streamed", str(dict(kinds)))
    check_equal(stream[-1][0], "end", "the stream's last event")
    check_equal(stream[-1][1]["status"], "completed", "the end event's status")
    progress = [data["progress"] for kind, data in stream if kind == "progress"]
    check_equal(progress, sorted(progress), "streamed progress never goes back")
    for kind, data in stream:
        check_progress(report_of(data), f"streamed {kind} event")


def check_result(raw: str, result: Mapping[str, Any] | None) -> None:
    check(isinstance(result, Mapping), f"{raw}: a result is recorded")
    assert isinstance(result, Mapping)
    check_equal(result.get("status_code"), 200, f"{raw}: HTTP status")
    title = (result.get("extracted") or {}).get("title")
    check(bool(title), f"{raw}: a title is extracted")


async def check_mixed(api: Api, batch_id: str, claims: int) -> None:
    with step("mixed batch: final status and every domain's outcome"):
        domains = await api.domains(batch_id, page=4)  # several pages: the cursor is followed
        by_input = {d["input"]: d for d in domains}
        check_equal(set(by_input), set(MIXED), "domains listed (duplicates merged)")
        for raw, (status, code) in MIXED.items():
            row = by_input[raw]
            got = (row["status"], row["error_code"])
            check(
                got == (status, code),
                f"{raw}: outcome",
                f"expected {status}/{code}, got {got[0]}/{got[1]} ({row['error_message']})",
            )
            if status == "succeeded":
                check_result(raw, row["result"])
        attempts = {raw: row["attempts"] for raw, row in by_input.items()}
        log.info("attempts by domain: %s", attempts)
        check_equal(sum(attempts.values()), claims, "the worker's claims equal the attempts")
        check_equal(by_input["slow.test"]["attempts"], MAX_ATTEMPTS, "slow.test: attempts")
        final = await api.status(batch_id)
        check_equal(final["status"], "completed", "status")
        expected_counts = Counter(status for status, _ in MIXED.values())
        check_equal(
            {k: v for k, v in final["counts"].items() if v}, dict(expected_counts), "counts"
        )
        expected_errors = Counter(code for status, code in MIXED.values() if status == "failed")
        check_equal(final["errors"], dict(sorted(expected_errors.items())), "errors by code")
        shop = by_input["https://shop.test/products?ref=e2e"]
        check_equal(shop["domain"], "shop.test", "a URL is stored as its host")
        check(
            str(shop["result"]["final_url"]).startswith("https://www.shop.test"),
            "shop.test: the redirect was followed",
        )
        code, page = await api.request("GET", f"/v1/batches/{batch_id}/domains?status=failed")
        check_equal(code, 200, "filtered domain list status code")
        check_equal(len(page["items"]), 5, "failed domains listed by the status filter")
        code, text = await api.request("GET", f"/v1/batches/{batch_id}/results?format=csv")
        check_equal(code, 200, "CSV export status code")
        rows = list(csv.DictReader(io.StringIO(text)))
        check_equal(len(rows), len(MIXED), "CSV rows")
        check_equal(
            {r["input"]: r["error_code"] or None for r in rows},
            {raw: code for raw, (_, code) in MIXED.items()},
            "CSV error codes",
        )


async def check_large(api: Api, batch_id: str, n_large: int) -> None:
    with step("large batch: final status and every domain's result (JSONL export)"):
        final = await api.status(batch_id)
        check_equal(final["status"], "completed", "status")
        check_equal(
            {k: v for k, v in final["counts"].items() if v},
            {"succeeded": n_large, "invalid": 5},
            "counts",
        )
        code, text = await api.request("GET", f"/v1/batches/{batch_id}/results")
        check_equal(code, 200, "JSONL export status code")
        lines = [json.loads(line) for line in text.splitlines() if line]
        check_equal(len(lines), n_large + 5, "exported lines")
        by_status = Counter(line["status"] for line in lines)
        check_equal(dict(by_status), {"succeeded": n_large, "invalid": 5}, "exported statuses")
        names = {line["domain"] for line in lines if line["status"] == "succeeded"}
        check_equal(names, {f"site{i}.bench.test" for i in range(n_large)}, "exported domains")
        for line in lines:
            if line["status"] == "succeeded":
                check_result(line["domain"], line["result"])
                check(
                    str(line["result"]["final_url"]).startswith(f"https://{line['domain']}"),
                    f"{line['domain']}: fetched over https",
                    str(line["result"]["final_url"]),
                )
        code, failed = await api.request("GET", f"/v1/batches/{batch_id}/results?status=failed")
        check_equal((code, failed.strip()), (200, ""), "no failed domain exported")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--domains", type=int, default=1000, help="Domains in the large batch (at least 1,000)."
    )
    parser.add_argument("--processor", default="homepage", help="Processor name or module:factory.")
    keyed_api.arguments(parser)


if __name__ == "__main__":
    main("test_batch_e2e", __doc__, body, arguments)
