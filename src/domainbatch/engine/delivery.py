"""Webhook delivery: workers post the outbox's events (see ``storage/outbox.py``), signed with
HMAC-SHA256 over ``"<timestamp>.<body>"``, retried with exponential backoff and jitter.

Receivers verify with :func:`verify` (or the README's snippet): recompute the signature with
the batch's secret, compare in constant time, and refuse timestamps older than a few minutes so
a captured request cannot be replayed later. The body's ``id`` is the event id: a receiver that
answered but whose answer was lost gets the event again with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from domainbatch.core.humanize import rfc3339
from domainbatch.core.queue import QueueStore
from domainbatch.core.retry import RetryPolicy
from domainbatch.engine.outage import Outage
from domainbatch.errors import InputError, StorageError
from domainbatch.fetching.connect import AiohttpResolver
from domainbatch.fetching.guard import check_url
from domainbatch.fetching.lookup import GuardedResolver
from domainbatch.settings import Settings
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import Delivery, Outbox

log = logging.getLogger("domainbatch.webhooks")

SIGNATURE_HEADER = "X-Domainbatch-Signature"
TIMESTAMP_HEADER = "X-Domainbatch-Timestamp"
CLAIM_SIZE = 16


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, tolerance: float = 300.0
) -> bool:
    """Whether a received webhook is authentic and fresh."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - sent_at) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body), signature)


class WebhookSender:
    """Claims due deliveries and posts them. One per worker; any number per fleet."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str,
        *,
        store: QueueStore,
        outage: Outage | None = None,
        only_batches: Sequence[str] | None = None,
    ) -> None:
        """``store``: where the status sent with each event is read. ``only_batches``: the
        worker's own (``worker --batch``), whose settings may be meant for them alone (a test
        web's ``allow_private_addresses``): other batches' events are left to other workers."""
        self.db = db
        self.only_batches = list(only_batches) if only_batches is not None else None
        self.store = store
        self.settings = settings
        self.worker_id = worker_id
        self.outbox = Outbox(db, settings.webhook_lease_seconds)
        self.retry = RetryPolicy.for_webhooks(settings)
        self.polling = RetryPolicy.for_polling(settings)
        self.sent = 0
        self._session: aiohttp.ClientSession | None = None
        self._wake = asyncio.Event()
        self._finishing = False
        # The worker's, so that one outage is reported once for all its loops.
        self.outage = outage or Outage(f"webhook sender {worker_id}", log)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until ``finish`` (or cancelled), polling with backoff when idle."""
        idle = 0
        while not self._finishing:
            try:
                idle = 0 if await self.deliver_due() else idle + 1
            except Exception as exc:
                self.outage.failed("webhook round", exc)
                idle += 1
            if idle and not self._finishing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.polling.delay(idle))

    async def deliver_due(self) -> int:
        deliveries = await self.outbox.claim(self.worker_id, CLAIM_SIZE, self.only_batches)
        self.outage.recovered()
        if deliveries:
            await asyncio.gather(*(self._deliver(d) for d in deliveries))
        return len(deliveries)

    async def finish(self, running: asyncio.Task[None]) -> None:
        """Stop ``run`` (the task ``running``) once its round in flight has ended, then
        ``drain``. Cancelling that round would cut a POST mid-way: the receiver may have the
        event, but its delivery stays leased for WEBHOOK_LEASE_SECONDS and holds its batch's
        later events back, so a burst worker exited without its batch's final event."""
        self._finishing = True
        self._wake.set()
        done, _ = await asyncio.wait({running}, timeout=min(self.settings.webhook_timeout, 10.0))
        if not done:
            running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await self.drain()

    async def drain(self) -> None:
        """Post what is due before the worker exits (a burst worker's final events), briefly;
        what is left stays in the outbox for other workers."""
        try:
            async with asyncio.timeout(min(self.settings.webhook_timeout, 10.0)):
                while await self.deliver_due():
                    pass
        except (StorageError, TimeoutError) as exc:
            # Expected at shutdown during an outage or with a slow receiver: one line will do.
            reason = exc.message if isinstance(exc, StorageError) else "time is up"
            log.warning("webhooks left in the outbox for other workers (%s)", reason)
        except Exception:
            log.warning("webhooks left in the outbox for other workers", exc_info=True)
        finally:
            await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # The homepage fetch's resolver and SSRF guard: receivers resolve like domains
            # (nameservers, resolve_overrides), but an override address gets no trust here (a
            # receiver on loopback or a private address needs allow_private_addresses), and no
            # cache beyond aiohttp's own. IP literals are checked before the request.
            resolver = AiohttpResolver(
                GuardedResolver.from_settings(self.settings, trust_overrides=False, cache_ttl=0)
            )
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    resolver=resolver, socket_factory=resolver.socket_factory, limit=CLAIM_SIZE
                ),
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout),
                headers={"User-Agent": self.settings.http_user_agent()},
            )
        return self._session

    async def _deliver(self, delivery: Delivery) -> None:
        status: int | None = None
        try:
            self._check_target(delivery.url)
            body = orjson.dumps(await self._payload(delivery))
            timestamp = int(time.time())
            headers = {
                "Content-Type": "application/json",
                "X-Domainbatch-Event": delivery.event,
                "X-Domainbatch-Delivery": delivery.id,
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: sign(delivery.secret, timestamp, body),
            }
            async with self._client().post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                await response.read()
            if 200 <= status < 300:
                await self.outbox.delivered(delivery, self.worker_id, status)
                self.sent += 1
                return
            error = f"the receiver answered HTTP {status}"
        except (aiohttp.ClientError, OSError, TimeoutError, InputError) as exc:
            # aiohttp wraps the resolver's refusal; its own text would hide the reason.
            cause = getattr(exc, "os_error", None) or exc.__cause__ or exc
            error = f"{type(exc).__name__}: {cause}"
        await self._failed(delivery, error, status)

    async def _failed(self, delivery: Delivery, error: str, status: int | None) -> None:
        retry_in = None
        if self.retry.retries(delivery.attempt):
            retry_in = self.retry.delay(delivery.attempt)
        log.warning(
            "webhook %s for %s attempt %d failed: %s (%s)",
            delivery.event,
            delivery.batch_id,
            delivery.attempt,
            error,
            "giving up" if retry_in is None else f"retry in {retry_in:.1f}s",
        )
        await self.outbox.failed(
            delivery, self.worker_id, error, status_code=status, retry_in=retry_in
        )

    def _check_target(self, url: str) -> None:
        check_url(url, allow_private=self.settings.allow_private_addresses)

    async def _payload(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "id": delivery.id,
            "event": delivery.event,
            "created_at": rfc3339(delivery.created_at),
            "batch": (await self.store.status(delivery.batch_id)).as_dict(),
        }
