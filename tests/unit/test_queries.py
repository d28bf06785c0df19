"""The Postgres queue store's named statements (storage/queries.sql) load as they are meant to:
every name the store uses, the clock substituted, no comment sent to the server."""

from __future__ import annotations

from domainbatch.storage.postgres import ack_query, queries
from domainbatch.storage.tables import PG_EPOCH_NOW


def test_every_named_statement_loads_ready_to_send() -> None:
    named = queries()
    assert set(named) == {"claim", "ack", "outcomes", "outcomes_with_retries", "status"}
    sent = {**named, "ack": ack_query(False), "ack_with_retries": ack_query(True)}
    for name, sql in sent.items():
        assert "{" not in sql and "--" not in sql, name
        assert not sql.rstrip().endswith(";"), name
    assert PG_EPOCH_NOW in named["claim"] and "FOR UPDATE SKIP LOCKED" in named["claim"]
    for ack in (ack_query(False), ack_query(True)):
        assert ack.startswith("WITH v AS") and "%(payload)s" in ack
    # Only an ack with a retry looks batches up; the acks of successes stay as they were.
    assert "%(cancelled)s" in ack_query(True) and "batches" not in ack_query(False)
