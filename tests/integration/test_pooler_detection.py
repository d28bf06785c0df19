"""``POOLER_MODE=auto`` at run time: a URL that names no known pooler is checked on the engine's
first connection (the server's own port against the URL's), so PgBouncer on 6432, or any proxy
in front of Postgres, runs in transaction mode; Postgres itself stays direct."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from domainbatch.settings import Settings
from domainbatch.storage.database import Database
from tests.conftest import BACKENDS, PG_URL, PGBOUNCER_URL
from tests.support.tcpproxy import TcpProxy


async def mode_after_connecting(url: str, configured: str = "auto") -> tuple[str, str]:
    db = Database(Settings(database_url=url, pooler_mode=configured))  # type: ignore[arg-type]
    before = db.pooler_mode
    try:
        async with db.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
        return before, db.pooler_mode
    finally:
        await db.dispose()


async def test_postgres_itself_stays_direct(postgres_schema: None) -> None:
    assert await mode_after_connecting(PG_URL) == ("direct", "direct")


@pytest.mark.skipif("pgbouncer" not in BACKENDS, reason="PgBouncer backend disabled")
async def test_pgbouncer_is_detected_as_transaction(postgres_schema: None) -> None:
    assert await mode_after_connecting(PGBOUNCER_URL) == ("direct", "transaction")


@pytest.mark.skipif("pgbouncer" not in BACKENDS, reason="PgBouncer backend disabled")
async def test_an_explicit_mode_is_never_second_guessed(postgres_schema: None) -> None:
    assert await mode_after_connecting(PGBOUNCER_URL, "direct") == ("direct", "direct")


async def test_any_proxy_in_between_counts_as_a_pooler(postgres_schema: None) -> None:
    target = psycopg.conninfo.conninfo_to_dict(PG_URL)
    with TcpProxy(str(target["host"]), int(target["port"])) as proxy:
        url = PG_URL.replace(f":{target['port']}/", f":{proxy.port}/")
        assert await mode_after_connecting(url) == ("direct", "transaction")
