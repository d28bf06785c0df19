"""Acks, the hot path's second half: how claimed attempts end. Outcomes are recorded in batches
(``ack``) and work a stopping worker never finished is handed back (``release``).

Both are guarded by (worker, attempt), and each is one short transaction with nothing
session-scoped, so it runs unchanged through a transaction-mode pooler.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, update

from domainbatch.core.status import DomainStatus
from domainbatch.storage import counters
from domainbatch.storage.claims import Claimed
from domainbatch.storage.counters import Key, Tally
from domainbatch.storage.database import Database
from domainbatch.storage.tables import PG_EPOCH_NOW, epoch_now
from domainbatch.storage.tables import batch_domains as d


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed attempt. ``retry_in`` set means: back to pending later."""

    claimed: Claimed
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    retry_in: float | None = None
    encoded: bytes | None = None  # ``result`` as JSON, when the worker already encoded it


def _guard() -> Any:
    # An ack only lands on the attempt it belongs to: a lease that expired and was reclaimed
    # by another worker makes this worker's late ack a no-op, so each domain ends once.
    return and_(
        d.c.id == bindparam("b_id"),
        d.c.status == DomainStatus.PROCESSING,
        d.c.worker_id == bindparam("b_worker"),
        d.c.attempts == bindparam("b_attempt"),
    )


_SUCCEED = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.SUCCEEDED,
        result=bindparam("b_result"),
        error_code=None,
        error_message=None,
        lease_expires_at=None,
        finished_at=epoch_now(),
    )
)
_FAIL = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.FAILED,
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        lease_expires_at=None,
        finished_at=epoch_now(),
    )
)
_RETRY = (
    update(d)
    .where(_guard())
    .values(
        status=DomainStatus.PENDING,
        error_code=bindparam("b_code"),
        error_message=bindparam("b_message"),
        lease_expires_at=None,
        worker_id=None,
        next_attempt_at=epoch_now() + bindparam("b_delay"),
    )
)

# Postgres hot path (see Acks._ack_postgres).
_PG_ACK = f"""
WITH v AS (
    SELECT * FROM json_to_recordset(%(payload)s::json)
        AS v (i bigint, a int, s text, c text, m text, r json, d float8)
), moved AS (
    UPDATE batch_domains AS d
    SET status = v.s,
        result = CASE WHEN v.s = 'succeeded' THEN v.r ELSE d.result END,
        error_code = v.c,
        error_message = v.m,
        lease_expires_at = NULL,
        finished_at = CASE WHEN v.s = 'pending' THEN d.finished_at ELSE {PG_EPOCH_NOW} END,
        worker_id = CASE WHEN v.s = 'pending' THEN NULL ELSE d.worker_id END,
        next_attempt_at = CASE
            WHEN v.s = 'pending' THEN {PG_EPOCH_NOW} + v.d ELSE d.next_attempt_at END
    FROM v
    WHERE d.id = v.i AND d.status = 'processing' AND d.worker_id = %(worker)s
        AND d.attempts = v.a
    RETURNING d.batch_id, d.status, d.error_code
), deltas AS (
    SELECT batch_id, status,
        CASE WHEN status = 'failed' THEN coalesce(error_code, '') ELSE '' END AS code,
        count(*) AS n
    FROM moved GROUP BY 1, 2, 3
    UNION ALL
    SELECT batch_id, 'processing', '', -count(*) FROM moved GROUP BY 1
), counted AS (
    INSERT INTO batch_counts AS c (batch_id, shard, status, error_code, n)
    SELECT batch_id, %(shard)s, status, code, sum(n) FROM deltas
    GROUP BY batch_id, status, code
    HAVING sum(n) <> 0
    ORDER BY batch_id, status, code
    ON CONFLICT (batch_id, shard, status, error_code) DO UPDATE SET n = c.n + excluded.n
)
SELECT count(*) FROM moved
"""


class Acks:
    def __init__(self, db: Database, shard: int) -> None:
        self.db = db
        self.shard = shard

    async def ack(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        """Record many outcomes in one transaction; returns the batches that may have ended."""
        if not self.db.is_sqlite:
            return await self._ack_postgres(outcomes, worker_id)
        # One executemany per (batch, new counter key): its row count is exactly how many
        # domains moved there (late acks match no row and count for nothing).
        groups: dict[tuple[Any, Key], list[dict[str, Any]]] = defaultdict(list)
        for o in outcomes:
            params: dict[str, Any] = {
                "b_id": o.claimed.id,
                "b_worker": worker_id,
                "b_attempt": o.claimed.attempt,
            }
            batch_id = o.claimed.batch_id
            if o.error_code is None:
                target = counters.key(batch_id, DomainStatus.SUCCEEDED)
                groups[(_SUCCEED, target)].append({**params, "b_result": o.result})
                continue
            params.update(b_code=o.error_code, b_message=o.error_message)
            if o.retry_in is not None:
                target = counters.key(batch_id, DomainStatus.PENDING)
                groups[(_RETRY, target)].append({**params, "b_delay": o.retry_in})
            else:
                target = counters.key(batch_id, DomainStatus.FAILED, o.error_code)
                groups[(_FAIL, target)].append(params)
        tally = Tally()
        async with self.db.transaction() as conn:
            for (stmt, target), params_list in groups.items():
                moved = (await conn.execute(stmt, params_list)).rowcount
                tally.move(target[0], DomainStatus.PROCESSING, target, moved)
            await counters.apply(conn, tally, self.shard)
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def _ack_postgres(self, outcomes: Sequence[Outcome], worker_id: str) -> set[str]:
        # One statement in autocommit for the whole batch of outcomes: one JSON document in
        # (results embedded as they were encoded, not re-encoded), UPDATE ... FROM it, and the
        # counter deltas of exactly the rows that moved (a late ack moves none).
        rows = []
        for o in sorted(outcomes, key=lambda o: o.claimed.id):  # a fixed row-lock order
            row: dict[str, Any] = {"i": o.claimed.id, "a": o.claimed.attempt}
            if o.error_code is None:
                row["s"] = DomainStatus.SUCCEEDED.value
                row["r"] = orjson.Fragment(
                    o.encoded if o.encoded is not None else orjson.dumps(o.result)
                )
            else:
                row["c"] = o.error_code
                row["m"] = o.error_message
                if o.retry_in is not None:
                    row["s"] = DomainStatus.PENDING.value
                    row["d"] = float(o.retry_in)
                else:
                    row["s"] = DomainStatus.FAILED.value
            rows.append(row)
        params = {"payload": orjson.dumps(rows).decode(), "worker": worker_id, "shard": self.shard}
        async with self.db.autocommit() as driver, driver.cursor() as cur:
            await cur.execute(_PG_ACK, params)
        return {o.claimed.batch_id for o in outcomes if o.retry_in is None}

    async def release(self, claims: Iterable[Claimed], worker_id: str) -> None:
        """Hand back unstarted or interrupted work at shutdown, without spending an attempt."""
        by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in claims:
            by_batch[c.batch_id].append(
                {"b_id": c.id, "b_worker": worker_id, "b_attempt": c.attempt}
            )
        if not by_batch:
            return
        stmt = (
            update(d)
            .where(_guard())
            .values(
                status=DomainStatus.PENDING,
                worker_id=None,
                lease_expires_at=None,
                attempts=d.c.attempts - 1,
            )
        )
        tally = Tally()
        async with self.db.transaction() as conn:
            for batch_id, params in by_batch.items():
                moved = (await conn.execute(stmt, params)).rowcount
                tally.move(batch_id, DomainStatus.PROCESSING, DomainStatus.PENDING, moved)
            await counters.apply(conn, tally, self.shard)
