"""Webhooks from a real server to a real local receiver: signed, retried, each event once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from domainbatch.core.humanize import rfc3339
from domainbatch.core.models import DeliveryRecord
from domainbatch.engine.delivery import verify
from domainbatch.storage.database import Database
from domainbatch.storage.outbox import Outbox
from tests.conftest import backend_settings
from tests.support.apiserver import ApiServer

SECRET = "whsec-test-0123456789"


class Receiver:
    """An HTTP receiver on 127.0.0.1 that answers 503 to the first ``failures`` attempts of
    every delivery, then 200, and records everything it was sent."""

    def __init__(self, failures: int = 2, delay: float = 0.0) -> None:
        self.failures = failures
        self.delay = delay  # seconds before each answer, after recording what was sent
        self.attempts: Counter[str] = Counter()
        self.accepted: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                delivery = self.headers["X-Domainbatch-Delivery"]
                with receiver.lock:
                    receiver.attempts[delivery] += 1
                    ok = receiver.attempts[delivery] > receiver.failures
                    if ok:
                        receiver.accepted.append({"headers": dict(self.headers), "body": body})
                time.sleep(receiver.delay)
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, batch_id: str) -> list[str]:
        with self.lock:
            bodies = [json.loads(a["body"]) for a in self.accepted]
        return [b["event"] for b in bodies if b["batch"]["id"] == batch_id]

    def wait_for(self, batch_id: str, count: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.events(batch_id)) < count:
            assert time.monotonic() < deadline, (self.events(batch_id), self.attempts)
            time.sleep(0.05)
        time.sleep(1.0)  # long enough for a duplicate or a late retry to show up
        return self.events(batch_id)


def hook(receiver: Receiver) -> dict[str, str]:
    return {"url": receiver.url, "secret": SECRET}


def test_events_are_signed_retried_and_delivered_once(
    api: ApiServer, api_backend: str, api_workdir: Path
) -> None:
    with Receiver(failures=2) as receiver:
        done = api.create(["wh1.test", "wh2.test"], webhook=hook(receiver))["id"]
        slow = api.create([f"slow-w{i}.test" for i in range(20)], webhook=hook(receiver))["id"]
        invalid = api.create(["nope_", "bad_"], webhook=hook(receiver))["id"]
        api.wait(done)
        assert api.post(f"/v1/batches/{slow}/cancel").status_code == 200
        assert receiver.wait_for(done, 2) == ["batch.started", "batch.completed"]
        slow_events = receiver.wait_for(slow, 1)
        assert slow_events[-1] == "batch.cancelled" and len(set(slow_events)) == len(slow_events)
        assert receiver.wait_for(invalid, 1) == ["batch.failed"]
        # Every accepted delivery took exactly three attempts (two 503s, then 200).
        assert set(receiver.attempts.values()) == {3}
        for accepted in receiver.accepted:
            headers, body = accepted["headers"], accepted["body"]
            stamp, signature = (
                headers["X-Domainbatch-Timestamp"],
                headers["X-Domainbatch-Signature"],
            )
            assert verify(SECRET, stamp, signature, body)
            expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
            assert signature == "sha256=" + expected.hexdigest()
            assert abs(time.time() - int(stamp)) < 60
            assert not verify("wrong-secret", stamp, signature, body)
            assert not verify(SECRET, stamp, signature, body + b" ")
            payload = json.loads(body)
            assert payload["id"] == headers["X-Domainbatch-Delivery"]
            assert payload["event"] == headers["X-Domainbatch-Event"]
        final = [json.loads(a["body"]) for a in receiver.accepted]
        completed = next(p for p in final if p["event"] == "batch.completed")
        assert completed["batch"]["status"] == "completed"
        assert completed["batch"]["counts"]["succeeded"] == 2
    # The outbox kept the history: delivered, on the third attempt, with the receiver's status.
    rows = deliveries(api_backend, api_workdir, done)
    assert [(r.event, r.status, r.attempts, r.response_status) for r in rows] == [
        ("batch.started", "delivered", 3, 200),
        ("batch.completed", "delivered", 3, 200),
    ]
    # Times are RFC 3339, the event's as the outbox row's and the batch's as the API's.
    sent = {p["id"]: p for p in final}
    assert [sent[r.id]["created_at"] for r in rows] == [rfc3339(r.created_at) for r in rows]
    shown = api.get(f"/v1/batches/{done}").json()
    assert completed["batch"]["finished_at"] == shown["finished_at"] is not None
    assert completed["batch"]["created_at"] == shown["created_at"]


def deliveries(backend: str, workdir: Path, batch_id: str) -> list[DeliveryRecord]:
    """The outbox rows of one batch, read through the storage code."""

    async def read() -> list[DeliveryRecord]:
        db = Database(backend_settings(backend, workdir))
        try:
            return await Outbox(db, 60).deliveries(batch_id)
        finally:
            await db.dispose()

    return asyncio.run(read())
