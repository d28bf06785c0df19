"""Bulk loading of a new batch's domains on Postgres: ``COPY`` straight into ``batch_domains``.

Inside the creation transaction, each chunk of normalized rows is streamed with psycopg's
``COPY ... FROM STDIN`` on the transaction's own connection. ``COPY`` has no ``ON CONFLICT``,
so duplicates (after normalization) are removed before a row is sent, exactly and with memory
that does not grow with the batch:

- within a chunk, by a set of the chunk's domains;
- across chunks, by a fixed-size Bloom filter of every domain sent so far. A domain the filter
  has never seen is certainly new; the few it may have seen are looked up in ``batch_domains``
  (one indexed ``= ANY`` query per chunk). Nobody else can insert rows of a batch whose
  transaction has not committed, so the lookup is exact.

Why not a staging table and ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: measured on
1,000,000 rows, that ``INSERT`` alone costs 1.9-2.3x a raw ``COPY`` into the same table
(row-at-a-time speculative insertion instead of ``COPY``'s multi-insert), so creation could
not get within 2x of ``COPY``. Streaming into the real table costs about the ``COPY`` itself.
Everything stays in one transaction with no session state, so it runs through a
transaction-mode pooler.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from domainbatch.core.domains import DomainNormalizer
from domainbatch.core.status import DomainStatus
from domainbatch.storage.creation import OnInvalid, Take, storable

COPY_SQL = (
    "COPY batch_domains (batch_id, domain, display, raw_input, status, error_code, "
    "error_message) FROM STDIN"
)
EXISTING_SQL = "SELECT domain FROM batch_domains WHERE batch_id = %s AND domain = ANY(%s)"

# Text-format COPY escapes (NUL never gets here: see creation._storable).
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"

BLOOM_BITS = 27  # 2**27 bits = 16 MiB, whatever the batch size
BLOOM_MASK = (1 << BLOOM_BITS) - 1


class Chunk:
    """One chunk ready to send: COPY text lines in input order (a duplicate found later
    becomes ``None``), and the lines whose domain may have been sent in an earlier chunk."""

    __slots__ = ("lines", "maybe")

    def __init__(self) -> None:
        self.lines: list[str | None] = []
        self.maybe: list[tuple[int, str]] = []


class CopyLoader:
    """Loads the chunks of one batch; ``stored`` counts the rows written.

    ``prepare`` is pure CPU (normalize, dedupe, format) and may run in a worker thread while
    ``load`` streams the previous chunk: the database ingests one chunk while Python prepares
    the next.
    """

    def __init__(
        self,
        conn: AsyncConnection,
        batch_id: str,
        normalizer: DomainNormalizer,
        storable: Callable[[str], str],
    ) -> None:
        self.conn = conn
        self.batch_id = batch_id
        self.normalizer = normalizer
        self.storable = storable
        # A Bloom filter (two probes) of every domain prepared so far: a domain it has never
        # seen is certainly new; false positives (about 2 in 10,000 at 1M domains, 2% at
        # 10M) only cost a lookup.
        self._bloom = bytearray(1 << (BLOOM_BITS - 3))
        self.stored = 0
        self._driver: Any = None

    def prepare(self, chunk: list[str], on_invalid: Callable[[str, str], None]) -> Chunk:
        normalize = self.normalizer.normalize
        storable = self.storable
        bloom = self._bloom
        prefix = self.batch_id + "\t"
        pending_tail = f"\t{DomainStatus.PENDING.value}\t{NULL}\t{NULL}\n"
        invalid_mid = f"\t{DomainStatus.INVALID.value}\tinvalid_domain\t"
        in_chunk: set[str] = set()
        out = Chunk()
        lines, maybe = out.lines, out.maybe
        for text in chunk:
            entry = normalize(text)
            domain = entry.domain
            if domain is None:
                raw = storable(text)
                reason = storable(entry.reason or "invalid domain")
                on_invalid(raw, reason)
                lines.append(
                    f"{prefix}{NULL}\t{NULL}\t{raw.translate(_ESCAPE)}{invalid_mid}"
                    f"{reason.translate(_ESCAPE)}\n"
                )
                continue
            if domain in in_chunk:
                continue
            in_chunk.add(domain)
            h = hash(domain)
            a, b = h & BLOOM_MASK, (h >> BLOOM_BITS) & BLOOM_MASK
            ia, ma, ib, mb = a >> 3, 1 << (a & 7), b >> 3, 1 << (b & 7)
            if bloom[ia] & ma and bloom[ib] & mb:
                maybe.append((len(lines), domain))
            else:
                bloom[ia] |= ma
                bloom[ib] |= mb
            display = entry.display
            if text == domain:
                raw_field = NULL
            else:
                raw = storable(text)
                raw_field = NULL if raw == domain else raw.translate(_ESCAPE)
            display_field = NULL if display is None or display == domain else display
            lines.append(f"{prefix}{domain}\t{display_field}\t{raw_field}{pending_tail}")
        return out

    async def _connection(self) -> Any:
        if self._driver is None:
            raw = await self.conn.get_raw_connection()
            self._driver = raw.driver_connection
        return self._driver

    async def load(self, chunk: Chunk) -> None:
        driver = await self._connection()
        lines = chunk.lines
        async with driver.cursor() as cur:
            if chunk.maybe:
                await cur.execute(EXISTING_SQL, (self.batch_id, [d for _, d in chunk.maybe]))
                existing = {r[0] for r in await cur.fetchall()}
                for i, domain in chunk.maybe:
                    if domain in existing:
                        lines[i] = None
            data = "".join(line for line in lines if line is not None)
            if not data:
                return
            async with cur.copy(COPY_SQL) as copy:
                await copy.write(data)
            self.stored += cur.rowcount


async def copy_domains(
    conn: AsyncConnection,
    batch_id: str,
    take: Take,
    normalizer: DomainNormalizer,
    on_invalid: OnInvalid,
) -> int:
    """A new batch's rows by ``COPY``, pipelined: a thread reads and normalizes the next chunk
    while the server ingests this one. Returns the rows stored."""
    copier = CopyLoader(conn, batch_id, normalizer, storable)

    def prepare() -> Chunk | None:
        chunk = take()
        return copier.prepare(chunk, on_invalid) if chunk else None

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1, thread_name_prefix="batch-create") as pool:
        ready = await loop.run_in_executor(pool, prepare)
        while ready is not None:
            following = loop.run_in_executor(pool, prepare)
            try:
                await copier.load(ready)
            except BaseException:
                with contextlib.suppress(BaseException):
                    await following
                raise
            ready = await following
    return copier.stored
