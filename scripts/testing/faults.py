"""The database outages ``test_db_outage.py`` causes and undoes, without touching the database
server: on Postgres (direct or through its pooler) a TCP proxy on 127.0.0.1 that only the
worker goes through, cut (every link reset, new ones refused) and restored; on SQLite, which has
no link to lose, the database's write lock held by the script's own connection."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Protocol

from common import CheckFailed
from sqlalchemy.engine import URL, make_url
from tests.support.tcpproxy import TcpProxy

from domainbatch.service import describe_database as database_facts
from domainbatch.settings import Settings

POSTGRES_PORT = 5432


class Fault(Protocol):
    kind: str  # the outage in a few words (the RECOVERY line's detail)
    variant: str  # which outage ran, as the log says it
    # Whether the worker sees errors (and logs the loss and the return) or just waits.
    worker_sees_errors: bool

    def worker_url(self) -> str: ...

    async def cut(self) -> None: ...

    async def restore(self) -> None: ...

    async def close(self) -> None: ...


class LinkCut:
    """Postgres behind a proxy the script owns: the worker's links go through it, the script's
    own reads and its cleanup go to the database directly."""

    worker_sees_errors = True

    def __init__(self, url: URL, pooler_mode: str) -> None:
        if not url.host:
            raise CheckFailed(
                "the database URL names no TCP host: the outage needs one to put a proxy in front"
            )
        self.url = url
        target = (url.host, url.port or POSTGRES_PORT)
        self.proxy = TcpProxy(*target).start()
        self.kind = f"Postgres link cut (pooler mode {pooler_mode})"
        self.variant = (
            f"{self.kind}: the worker reaches {target[0]}:{target[1]} through a TCP proxy "
            f"on 127.0.0.1:{self.proxy.port}; a cut resets every link and refuses new ones"
        )

    def worker_url(self) -> str:
        proxied = self.url.set(host="127.0.0.1", port=self.proxy.port)
        return proxied.render_as_string(hide_password=False)

    async def cut(self) -> None:
        await asyncio.to_thread(self.proxy.cut)

    async def restore(self) -> None:
        await asyncio.to_thread(self.proxy.restore)

    async def close(self) -> None:
        await asyncio.to_thread(self.proxy.stop)


class WriteLock:
    """SQLite's write lock taken by the script (``BEGIN EXCLUSIVE`` on a connection of its
    own). WAL lets readers go on; every write of the worker waits for the lock (its
    ``busy_timeout``, 60 s) instead of failing, so a shorter hold is a stall, not an error."""

    worker_sees_errors = False

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        # Autocommit mode: the script's BEGIN and ROLLBACK are the only transaction.
        self.conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self.kind = "SQLite write lock"
        self.variant = (
            f"{self.kind}: the script holds BEGIN EXCLUSIVE on {path}; "
            "the worker's writes wait for it"
        )

    def worker_url(self) -> str:
        return self.url

    async def cut(self) -> None:
        await asyncio.to_thread(self.conn.execute, "BEGIN EXCLUSIVE")

    async def restore(self) -> None:
        if self.conn.in_transaction:
            await asyncio.to_thread(self.conn.execute, "ROLLBACK")

    async def close(self) -> None:
        await self.restore()
        self.conn.close()


def fault_for(settings: Settings, pooler_mode: str) -> Fault:
    """The outage this script can cause on the configured database (``pooler_mode``: what the
    script's own connection runs with, POOLER_MODE=auto's detection included)."""
    url = settings.database_url.get_secret_value()
    facts = database_facts(settings)
    if facts["database"] != "sqlite":
        return LinkCut(make_url(url), pooler_mode)
    path = facts["sqlite_file"]
    if path is None:
        raise CheckFailed(
            f"{facts['database_url']}: an in-memory SQLite database cannot be shared with a "
            "worker process"
        )
    return WriteLock(url, path)
