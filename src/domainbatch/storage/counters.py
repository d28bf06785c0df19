"""Sharded counters of domains by status (and failed ones by error code), per batch.

Every transition of domain rows adds its deltas in the same transaction, into one of
``SHARDS`` rows per key chosen by the writer, so no single counter row is hot; a status read
sums a few dozen rows instead of scanning a million-row index.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.status import DomainStatus
from domainbatch.storage.tables import batch_counts

SHARDS = 16

# (batch_id, status, error_code) -> delta; error_code is "" except for failed domains.
Key = tuple[str, str, str]


def key(batch_id: str, status: str, code: str | None = None) -> Key:
    return (batch_id, status, (code or "") if status == DomainStatus.FAILED else "")


class Tally(Counter[Key]):
    def move(self, batch_id: str, old: Key | str, new: Key | str, n: int = 1) -> None:
        """``n`` domains left ``old`` for ``new`` (a status, or a full key for failures)."""
        self[old if isinstance(old, tuple) else key(batch_id, old)] -= n
        self[new if isinstance(new, tuple) else key(batch_id, new)] += n


def pick_shard() -> int:
    return random.randrange(SHARDS)


async def apply(conn: AsyncConnection, tally: Tally, shard: int) -> None:
    """Add the deltas in one statement, keys in a fixed order (no lock-order deadlocks)."""
    rows = [
        {"batch_id": b, "shard": shard, "status": s, "error_code": c, "n": n}
        for (b, s, c), n in sorted(tally.items())
        if n
    ]
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(batch_counts).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["batch_id", "shard", "status", "error_code"],
        set_={"n": batch_counts.c.n + stmt.excluded.n},
    )
    await conn.execute(stmt)


async def read(conn: AsyncConnection, batch_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by domain status, and failed domains by error code."""
    rows = await conn.execute(
        select(batch_counts.c.status, batch_counts.c.error_code, func.sum(batch_counts.c.n))
        .where(batch_counts.c.batch_id == batch_id)
        .group_by(batch_counts.c.status, batch_counts.c.error_code)
    )
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    for status, code, n in rows:
        counts[status] = counts.get(status, 0) + int(n)
        if code and int(n):
            errors[code] = errors.get(code, 0) + int(n)
    return counts, errors


def tally_rows(rows: Iterable[tuple[str, str, str | None]]) -> Tally:
    """Deltas for rows that moved: (batch_id, old status key or status, new status, code)."""
    tally = Tally()
    for batch_id, status, code in rows:
        tally[key(batch_id, status, code)] += 1
    return tally
