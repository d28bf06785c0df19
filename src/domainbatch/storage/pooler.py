"""Which pooler, if any, sits between domainbatch and Postgres: PgBouncer answers on its
admin console (the virtual database ``pgbouncer`` on the same host and port), which Postgres
has not (``database "pgbouncer" does not exist``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import psycopg

from domainbatch.storage.database import Database, first_line


@dataclass(frozen=True)
class Pooler:
    name: str  # e.g. "PgBouncer 1.18.0"
    mode: str | None  # its pool mode for our database, when the console tells it


def _probe(db: Database) -> Pooler | None:
    url = db.url
    try:
        with (
            psycopg.connect(
                host=url.host,
                port=url.port or 5432,
                user=url.username,
                password=url.password,
                dbname="pgbouncer",
                autocommit=True,
                connect_timeout=3,
                cursor_factory=psycopg.ClientCursor,  # the console speaks simple queries only
            ) as conn,
            conn.cursor() as cursor,
        ):
            cursor.execute("SHOW VERSION")
            version = cursor.fetchone()
            cursor.execute("SHOW DATABASES")
            names = [c.name for c in cursor.description or ()]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            cursor.execute("SHOW CONFIG")
            config = {row[0]: row[1] for row in cursor.fetchall()}
    except psycopg.Error as exc:
        message = first_line(exc)
        if 'database "pgbouncer" does not exist' in message:
            return None  # Postgres itself answered
        if "pgbouncer" in message.lower() or "not allowed" in message:
            return Pooler(f"PgBouncer (admin console refused: {message})", None)
        return None
    ours = next((r for r in rows if r.get("name") == url.database), {})
    mode = ours.get("pool_mode") or config.get("pool_mode")
    return Pooler(str(version[0]) if version else "PgBouncer", str(mode) if mode else None)


async def detect(db: Database) -> Pooler | None:
    """The pooler in front of ``db`` (None: Postgres answers directly, or SQLite)."""
    if db.is_sqlite:
        return None
    return await asyncio.to_thread(_probe, db)
