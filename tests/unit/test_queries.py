"""The Postgres queue store's named statements (storage/queries.sql) load as they are meant to:
every name the store uses, the clock substituted, no comment sent to the server."""

from __future__ import annotations

from domainbatch.storage.postgres import queries
from domainbatch.storage.tables import PG_EPOCH_NOW


def test_every_named_statement_loads_ready_to_send() -> None:
    named = queries()
    assert set(named) == {"claim", "ack", "status"}
    for name, sql in named.items():
        assert "{" not in sql and "--" not in sql, name
        assert not sql.rstrip().endswith(";"), name
    assert PG_EPOCH_NOW in named["claim"] and "FOR UPDATE SKIP LOCKED" in named["claim"]
    assert named["ack"].startswith("WITH v AS") and "%(payload)s" in named["ack"]
