"""TEST ONLY: ``domainbatch`` with its lease reclaim broken, for the negative control of
test_recovery.py (``--sabotage reclaim``). ``reap`` (the sweep that takes back the domains of
a worker whose lease expired) does nothing on either SQL store; everything else is the real
CLI. Never run a worker this way outside that control.

    python scripts/testing/reclaim_sabotage.py worker --burst --batch ID ...
"""

from __future__ import annotations

from domainbatch.cli.main import app
from domainbatch.storage.postgres import PostgresQueue
from domainbatch.storage.queue import SqlQueue
from domainbatch.storage.sqlite import SqliteQueue


async def reclaim_nothing(self: SqlQueue) -> set[str]:
    return set()


# Both backends, by name: a store that one day overrides ``reap`` stays broken too.
for store in (SqlQueue, SqliteQueue, PostgresQueue):
    store.reap = reclaim_nothing  # type: ignore[method-assign]

app(prog_name="domainbatch")
