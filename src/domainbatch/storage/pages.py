"""Keyset pages for the API: batches newest first, a batch's domains in id order, each page
ending with an opaque cursor (base64 of the last row's key). No OFFSET (page N costs as much as
page 1) and no server-side cursor (nothing outlives one statement: pooler-safe)."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import and_, or_, select

from domainbatch.core.models import BatchRecord, DomainRecord, Page
from domainbatch.errors import InvalidCursorError, NotFoundError
from domainbatch.storage.batches import batch_record, domain_record, get_batch_row
from domainbatch.storage.database import Database
from domainbatch.storage.tables import batch_domains as d
from domainbatch.storage.tables import batches as b


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


_BAD_CURSOR = "the cursor is not valid; use next_cursor from a previous page"
_MAX_CURSOR = 512  # characters; ours are under 100 (a time and a 36-character batch id)
_MAX_KEY_INT = 2**63 - 1  # a BIGINT (Postgres) or INTEGER (SQLite) id
_MAX_KEY_TEXT = 64  # a batch id is a 36-character UUID


def _storable_key(value: Any, kind: type | tuple[type, ...]) -> bool:
    """Whether ``value`` has the expected type and is a value the database can compare with:
    a forged cursor must be refused here, not fail in the driver (503) or the server."""
    if isinstance(value, bool) or not isinstance(value, kind):
        return False
    if isinstance(value, int):
        return 0 <= value <= _MAX_KEY_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):  # no NUL (Postgres refuses it), no control characters
        return 0 < len(value) <= _MAX_KEY_TEXT and value.isascii() and value.isprintable()
    return False


def decode_cursor(cursor: str, shape: tuple[type | tuple[type, ...], ...]) -> list[Any]:
    """The key inside ``cursor``; a cursor that was not ours is ``InvalidCursorError`` (422)."""
    if len(cursor) > _MAX_CURSOR:
        raise InvalidCursorError(_BAD_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = orjson.loads(raw)
    except ValueError:  # binascii.Error, orjson.JSONDecodeError, a non-ASCII cursor
        raise InvalidCursorError(_BAD_CURSOR) from None
    if (
        not isinstance(key, list)
        or len(key) != len(shape)
        or not all(_storable_key(v, t) for v, t in zip(key, shape, strict=True))
    ):
        raise InvalidCursorError(_BAD_CURSOR)
    return key


def batch_after(cursor: str) -> tuple[float, str]:
    """The (created_at, id) a batch page's cursor says the next page starts after."""
    created, last_id = decode_cursor(cursor, ((int, float), str))
    return created, last_id


def domain_after(cursor: str | None) -> int:
    """The domain id a domain page's cursor says the next page starts after (0: the first)."""
    return int(decode_cursor(cursor, (int,))[0]) if cursor else 0


def batches_page(rows: Sequence[Any], limit: int) -> Page[BatchRecord]:
    """A page from up to ``limit + 1`` batch rows, newest first: the extra one only says
    there is a next page (rows are any objects with the ``batches`` columns)."""
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = encode_cursor([rows[-1].created_at, rows[-1].id]) if more else None
    return Page([batch_record(r) for r in rows], next_cursor)


def domains_page(rows: Sequence[Any], limit: int) -> Page[DomainRecord]:
    """A page from up to ``limit + 1`` domain rows in id order (as ``batches_page``)."""
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = encode_cursor([rows[-1].id]) if more else None
    return Page([domain_record(r) for r in rows], next_cursor)


async def batch_page(
    db: Database,
    *,
    tenant_id: str | None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[BatchRecord]:
    """Batches, newest first. ``tenant_id`` None lists every batch (no-auth mode, CLI)."""
    query = select(b).order_by(b.c.created_at.desc(), b.c.id.desc()).limit(limit + 1)
    if tenant_id is not None:
        query = query.where(b.c.tenant_id == tenant_id)
    if status:
        query = query.where(b.c.status == status)
    if cursor:
        created, last_id = batch_after(cursor)
        query = query.where(
            or_(b.c.created_at < created, and_(b.c.created_at == created, b.c.id < last_id))
        )
    async with db.connect() as conn:
        return batches_page((await conn.execute(query)).all(), limit)


async def domain_page(
    db: Database,
    batch_id: str,
    *,
    tenant_id: str | None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[DomainRecord]:
    """One page of a batch's domains in id (= input) order, optionally of one status."""
    after = domain_after(cursor)
    query = (
        select(d).where(d.c.batch_id == batch_id, d.c.id > after).order_by(d.c.id).limit(limit + 1)
    )
    if status:
        query = query.where(d.c.status == status)
    async with db.connect() as conn:
        await get_batch_row(conn, batch_id, tenant_id=tenant_id)
        rows = (await conn.execute(query)).all()
    return domains_page(rows, limit)


async def get_domain(
    db: Database, batch_id: str, domain_id: int, *, tenant_id: str | None
) -> DomainRecord:
    async with db.connect() as conn:
        await get_batch_row(conn, batch_id, tenant_id=tenant_id)
        row = (
            await conn.execute(select(d).where(d.c.batch_id == batch_id, d.c.id == domain_id))
        ).first()
    if row is None:
        raise NotFoundError(f"no domain {domain_id} in batch {batch_id}")
    return domain_record(row)
