"""A webhook receiver for the keyed API steps: an aiohttp server on 127.0.0.1 (a free port)
that verifies every delivery exactly as the README tells users to, records it, and answers
204 (401 when the signature does not verify, as a real receiver would)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from common import CheckFailed, check, check_equal

TOLERANCE = 300  # seconds: the README's replay window


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = TOLERANCE
) -> bool:
    """The README's recipe, as a user copies it: HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    stamp = headers["X-Domainbatch-Timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:  # refuse replays of old deliveries
        return False
    expected = (
        "sha256="
        + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, headers["X-Domainbatch-Signature"])


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event(self) -> str:
        return str(self.payload["event"])

    @property
    def batch_id(self) -> str:
        return str(self.payload["batch"]["id"])


class Receiver:
    """``async with Receiver(secret) as receiver:`` listening on ``receiver.port``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self.port = 0
        app = web.Application()
        app.router.add_post("/hook", self._receive)
        self._runner = web.AppRunner(app, access_log=None)

    async def __aenter__(self) -> Receiver:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        verified = verify(self.secret, headers, body)
        self.deliveries.append(Delivery(headers, body, verified))
        return web.Response(status=204 if verified else 401)

    def events(self, batch_id: str) -> list[str]:
        return [d.event for d in self.deliveries if d.batch_id == batch_id]

    def check_signatures(self) -> None:
        """Fails on the first delivery that did not verify."""
        for d in self.deliveries:
            if not d.verified:
                raise CheckFailed(
                    f"webhook signature did not verify: {d.event} of batch {d.batch_id} "
                    f"(delivery {d.headers.get('X-Domainbatch-Delivery')}): its "
                    "X-Domainbatch-Signature is not the HMAC-SHA256 of '<timestamp>.<body>' "
                    f"with the batch's secret, or its timestamp is off by over {TOLERANCE} s"
                )

    def check_deliveries(self, batch_ids: set[str]) -> None:
        """Each delivery verified, for one of these batches, once, its headers agreeing with
        its body; a copy with a tampered body must not verify."""
        self.check_signatures()
        ids = [d.headers["X-Domainbatch-Delivery"] for d in self.deliveries]
        check_equal(len(set(ids)), len(ids), "each webhook delivered once (distinct ids)")
        for d in self.deliveries:
            check(d.batch_id in batch_ids, "a webhook of this script's batches", d.batch_id)
            check_equal(d.payload["id"], d.headers["X-Domainbatch-Delivery"], "the event id")
            check_equal(d.event, d.headers["X-Domainbatch-Event"], "the event header")
            tampered = d.body.replace(b'"event"', b'"event" ', 1)
            check(tampered != d.body, "the body can be tampered with", d.body[:100].decode())
            check(
                not verify(self.secret, d.headers, tampered),
                "a webhook with a tampered body does not verify",
                d.event,
            )
