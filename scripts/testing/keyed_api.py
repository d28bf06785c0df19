"""The end-to-end script's keyed API steps (``test_batch_e2e.py`` runs them after its own).

A second ``domainbatch serve``, WITH keys (``--no-worker``; its SSRF guard on), after the
``--no-auth`` one: the two modes have rules of their own, and this one's batches get one attempt
per domain. Two tenants get a key each from ``domainbatch keys create``. Here: no key, an
unknown key and a malformed header are 401; tenant B gets 404, exactly as for an unknown id, on
every route of tenant A's batch, and each tenant lists only its own batches. Then a worker
processes A's batches (``keyed_batches.py``: a cancel, a retry, signed webhooks), and B's key,
revoked with ``domainbatch keys revoke`` meanwhile, is refused. The tenants and their keys are
deleted at the end, whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from api_client import Client, cli
from children import Child, check_clean_exit, started, wait_ready
from common import Script, check, check_equal, log, runtime, step
from keyed_batches import CANCELLED, RETRIED, process
from sqlalchemy import select
from tests.support.servers import free_port
from webhook_receiver import Receiver

from domainbatch.storage.tables import api_keys, tenants

KEY_CACHE = 5.0  # seconds a server may still accept a revoked key


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bad-webhook-secret",
        action="store_true",
        help="Negative control: the webhook receiver verifies with a wrong secret (must fail).",
    )


async def check_keyed_api(script: Script, tmp: Path, env: dict[str, str]) -> None:
    """The keyed steps; ``env`` aims a ``domainbatch`` process at the database and test web."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"validation-e2e-a-{suffix}", f"validation-e2e-b-{suffix}")
    script.cleanup.add(f"tenants {', '.join(names)} and their keys deleted", forget(script, names))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # One attempt per domain: the cancelled batch's domains in flight (cut at 1 s) end with it
    # at once. With retries left, one whose ack raced the cancel on Postgres ends `cancelled`
    # only at the next sweep (every half lease): right, but later than this script waits.
    serve_env = {**env, "DOMAINBATCH_MAX_ATTEMPTS": "1"}
    serve_env["DOMAINBATCH_DB_APPLICATION_NAME"] = "domainbatch-e2e-keyed-server"
    serve = Child(
        "keyed-server", ["serve", "--port", str(port), "--no-worker", "-q"], serve_env, tmp
    )
    secret = "whsec-" + uuid.uuid4().hex
    verifier = "not-" + secret if script.args.bad_webhook_secret else secret
    async with (
        started(serve),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http,
        Receiver(verifier) as receiver,
    ):
        with step("keyed server: ready; two tenants' keys from `domainbatch keys create`"):
            creating = (cli(env, "keys", "create", "--tenant", name, "--json") for name in names)
            issued, _ = await asyncio.gather(asyncio.gather(*creating), wait_ready(base, serve))
            keys = [json.loads(out) for out in issued]
            check_equal([k["tenant"] for k in keys], list(names), "the keys' tenants")
            a, b = (Client(http, base, k["key"]) for k in keys)
        await refused_callers(http, base)
        hook = {"url": f"http://hooks.test:{receiver.port}/hook", "secret": secret}
        mine, theirs = await create_batches(script, a, b, hook, receiver.port)
        await isolation(a, b, mine, theirs)
        # B is done: its key is revoked while A's batches are processed.
        revoking = asyncio.create_task(revoke(env, keys[1]["id"]))
        try:
            await process(script, a, tmp, env, mine, receiver)
            await refused_once_revoked(b, await revoking)
        finally:
            await asyncio.gather(revoking, return_exceptions=True)
    check_clean_exit(serve)


async def revoke(env: dict[str, str], key_id: str) -> float:
    """``domainbatch keys revoke``; when it was done (monotonic clock)."""
    await cli(env, "keys", "revoke", key_id)
    return time.monotonic()


async def refused_once_revoked(b: Client, revoked_at: float) -> None:
    with step("B's key, revoked with `domainbatch keys revoke`, is refused within 5 s"):
        while True:  # a server trusts a good key it has seen for up to 5 s (the README)
            code, data = await b.call("GET", "/v1/batches")
            waited = time.monotonic() - revoked_at
            if code != 200 or waited > KEY_CACHE + 0.5:
                break
            await asyncio.sleep(0.1)
        check_equal((code, data.get("code")), (401, "unauthorized"), "the revoked key")
        log.info("the revoked key was refused %.1f s after the revocation", waited)


def forget(script: Script, names: tuple[str, ...]) -> Callable[[], Awaitable[None]]:
    """Cleanup: the script's tenants and their keys deleted (the CLI only revokes keys)."""

    async def action() -> None:
        async with runtime(script.settings) as rt:
            async with rt.db.transaction() as conn:
                ids = select(tenants.c.id).where(tenants.c.name.in_(names)).scalar_subquery()
                await conn.execute(api_keys.delete().where(api_keys.c.tenant_id.in_(ids)))
                await conn.execute(tenants.delete().where(tenants.c.name.in_(names)))
            for name in names:
                left = await rt.system().list_keys(name)
                check_equal(left, [], f"keys of tenant {name} after cleanup")

    return action


async def refused_callers(http: aiohttp.ClientSession, base: str) -> None:
    with step("no key, an unknown key, a malformed header: 401; /healthz needs no key"):
        anonymous = Client(http, base, None)
        unknown = Client(http, base, "dbk_" + uuid.uuid4().hex * 2)
        basic = {"headers": {"Authorization": "Basic dXNlcjpwYXNz"}}
        for who, client, method, extra in (
            ("no key", anonymous, "GET", {}),
            ("no key", anonymous, "POST", {"json": {"domains": ["a.test"]}}),
            ("an unknown key", unknown, "GET", {}),
            ("an unknown key", unknown, "POST", {"json": {"domains": ["a.test"]}}),
            ("a Basic header", anonymous, "GET", basic),
        ):
            code, data = await client.call(method, "/v1/batches", **extra)
            check_equal((code, data.get("code")), (401, "unauthorized"), f"{method} with {who}")
        check_equal(await anonymous.call("GET", "/healthz"), (200, {"status": "ok"}), "healthz")


async def create_batches(
    script: Script, a: Client, b: Client, hook: dict[str, str], port: int
) -> tuple[dict[str, str], str]:
    """A's batches by label (each with the webhook), and B's batch."""
    with step("tenant A creates batches with a signed webhook; B creates one"):
        # The API node's SSRF guard is on: a receiver named by a loopback IP literal is refused.
        literal = {**hook, "url": f"http://127.0.0.1:{port}/hook"}
        code, data = await a.call(
            "POST", "/v1/batches", json={"domains": RETRIED, "webhook": literal}
        )
        check(code == 422 and "loopback" in str(data), "a loopback webhook URL is refused", data)
        bodies = {
            "retried": {"domains": RETRIED, "webhook": hook},
            "cancelled": {"domains": CANCELLED, "webhook": hook, "options": {"total_timeout": 1.0}},
            "invalid": {"domains": ["bad_", "-x-.test"], "webhook": hook},
        }
        mine: dict[str, str] = {}
        for label, body in bodies.items():
            created = await a.ok("POST", "/v1/batches", 201, json=body)
            mine[label] = script.cleanup.batch(created["id"])
        theirs = await b.ok("POST", "/v1/batches", 201, json={"domains": ["plain.test"]})
        return mine, script.cleanup.batch(theirs["id"])


async def isolation(a: Client, b: Client, mine: dict[str, str], theirs: str) -> None:
    with step("isolation: B gets 404 on every route of A's batch; each lists only its own"):
        target = mine["retried"]
        page = await a.ok("GET", f"/v1/batches/{target}/domains")
        domain_id = page["items"][0]["id"]
        unknown = str(uuid.uuid4())
        for method, route in (
            ("GET", ""),
            ("GET", "/domains"),
            ("GET", f"/domains/{domain_id}"),
            ("GET", "/results"),
            ("GET", "/results?format=csv"),
            ("GET", "/events"),
            ("POST", "/cancel"),
            ("POST", "/retry"),
        ):
            for batch_id in (target, unknown):
                code, data = await b.call(method, f"/v1/batches/{batch_id}{route}")
                expected = (404, "not_found", f"no batch {batch_id}")
                got = (code, data.get("code"), data.get("message"))
                check_equal(got, expected, f"B: {method} {route or '/'} of A's batch or none")
        code, data = await a.call("GET", f"/v1/batches/{theirs}")
        check_equal((code, data.get("code")), (404, "not_found"), "A: B's batch")
        status = await a.ok("GET", f"/v1/batches/{target}")
        check_equal(status["status"], "pending", "A's batch, after B's cancel and retry")
        for client, own in ((a, set(mine.values())), (b, {theirs})):
            listed = await client.ok("GET", "/v1/batches?limit=100")
            check_equal({i["id"] for i in listed["items"]}, own, "a tenant's list: its batches")
