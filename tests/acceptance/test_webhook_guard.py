"""Webhook receivers on private addresses obey ``allow_private_addresses`` (its own module:
the other webhook tests' server permits private receivers and would deliver these events)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from domainbatch.core.models import DeliveryRecord
from tests.acceptance.conftest import server_env
from tests.acceptance.test_api_webhooks import SECRET, Receiver, deliveries, hook
from tests.support.apiserver import ApiServer
from tests.support.processes import run_domainbatch


def test_private_receivers_obey_the_ssrf_setting(api_backend: str, api_workdir: Path) -> None:
    env = server_env(
        api_backend,
        api_workdir,
        DOMAINBATCH_WEBHOOK_MAX_ATTEMPTS="2",
        DOMAINBATCH_RESOLVE_OVERRIDES="hooks.test=127.0.0.1",
    )
    with Receiver(failures=0) as receiver, ApiServer(env, api_workdir, "--no-auth") as server:
        refused = server.post(
            "/v1/batches", key="", json={"domains": ["p.test"], "webhook": hook(receiver)}
        )
        assert refused.status_code == 422 and "loopback" in refused.json()["message"]
        # A host name that resolves to loopback passes submission but is refused at delivery.
        named = {"url": receiver.url.replace("127.0.0.1", "hooks.test"), "secret": SECRET}
        batch_id = server.create(["p.test"], key="", webhook=named)["id"]
        server.wait(batch_id)
        rows: list[DeliveryRecord] = []
        deadline = time.monotonic() + 30
        while not rows or any(r.status == "pending" for r in rows):
            assert time.monotonic() < deadline, rows
            time.sleep(0.1)
            rows = deliveries(api_backend, api_workdir, batch_id)
        assert {r.status for r in rows} == {"failed"}
        errors = [str(r.last_error) for r in rows]
        assert all("refused addresses" in e for e in errors), errors
        assert receiver.attempts == Counter()


def test_a_worker_named_batches_posts_only_their_events(
    api_backend: str, api_workdir: Path
) -> None:
    """A ``worker --batch`` may run with settings meant for its batches alone (the validation
    scripts' ``allow_private_addresses``): it must not post another batch's events with them."""
    env = server_env(api_backend, api_workdir, DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES="true")
    with (
        Receiver(failures=0) as receiver,
        ApiServer(env, api_workdir, "--no-auth", "--no-worker") as server,
    ):
        mine = server.create(["m1.test", "m2.test"], key="", webhook=hook(receiver))["id"]
        # Every entry invalid: the batch ends at creation and its event waits in the outbox.
        other = server.create(["nope_", "bad_"], key="", webhook=hook(receiver))["id"]
        done = run_domainbatch("worker", "--burst", "--batch", mine, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert receiver.wait_for(mine, 2) == ["batch.started", "batch.completed"]
        assert receiver.events(other) == []
        rows = deliveries(api_backend, api_workdir, other)
        assert [(r.event, r.status, r.attempts) for r in rows] == [("batch.failed", "pending", 0)]


def test_a_burst_worker_posts_its_batch_final_event_before_it_exits(
    api_backend: str, api_workdir: Path
) -> None:
    """A slow receiver: the batch ends while the POST of its first event is in flight. The
    worker must let that POST finish (cut off, the delivery stayed leased and held the final
    event back: the worker exited without posting it, seen as a flaky CI failure)."""
    env = server_env(api_backend, api_workdir, DOMAINBATCH_ALLOW_PRIVATE_ADDRESSES="true")
    with (
        Receiver(failures=0, delay=1.5) as receiver,
        ApiServer(env, api_workdir, "--no-auth", "--no-worker") as server,
    ):
        batch_id = server.create(["f1.test", "f2.test"], key="", webhook=hook(receiver))["id"]
        done = run_domainbatch("worker", "--burst", "--batch", batch_id, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        # Posted before the worker exited: nothing is left for another worker to send.
        assert receiver.events(batch_id)[-1] in ("batch.completed", "batch.failed"), (
            receiver.events(batch_id),
            done.stderr[-2000:],
        )
        rows = deliveries(api_backend, api_workdir, batch_id)
        assert {r.status for r in rows} == {"delivered"}, rows
