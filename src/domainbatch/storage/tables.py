"""Table definitions (SQLAlchemy Core). Timestamps are epoch seconds from the database clock,
so a fleet of workers compares leases against one clock and rate/ETA arithmetic stays simple."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres wants a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

batches = Table(
    "batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("processor", String(200), nullable=False),
    Column("options", JSON, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("invalid", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    # Revision 0002: the owning tenant (NULL: created by the CLI or a --no-auth server) and the
    # webhook that hears about the batch's transitions. Tenants are never deleted, so no FK.
    Column("tenant_id", String(36)),
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    # Revision 0003: seconds the batch sat ended before a retry reopened it (not worked time).
    Column("idle_seconds", Float, nullable=False, server_default="0"),
    # Revision 0005: the deadline option (seconds from the start), when it passes (set at the
    # start, and anew when a retry reopens the batch), and the completion percentiles
    # (seconds from the start until 50/90/99/100% of its domains were finished) at its end.
    Column("deadline_seconds", Float),
    Column("deadline_at", Float),
    Column("t50", Float),
    Column("t90", Float),
    Column("t99", Float),
    Column("t100", Float),
    Index("ix_batches_created", "created_at", "id"),
    Index("ix_batches_status", "status"),
    Index("ix_batches_tenant_created", "tenant_id", "created_at", "id"),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # Only a digest is stored; the prefix lets people tell their keys apart in `keys list`.
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

# The outbox: a row per batch event, written in the transaction of the transition itself, then
# posted (with retries) by whichever worker leases it. Status: pending, delivered, failed.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("batch_id", String(36), ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("lease_expires_at", Float),
    Column("worker_id", String(64)),
    Column("response_status", Integer),
    Column("last_error", Text),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_deliveries_batch", "batch_id"),
)

batch_domains = Table(
    "batch_domains",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "batch_id",
        String(36),
        ForeignKey("batches.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("domain", String(253)),
    Column("display", String(253)),
    Column("raw_input", Text),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("lease_expires_at", Float),
    Column("worker_id", String(64)),
    Column("error_code", String(32)),
    Column("error_message", Text),
    Column("result", JSON),
    Column("started_at", Float),
    Column("finished_at", Float),
    # Duplicates after normalization are stored once; invalid rows have no domain (NULLs differ).
    UniqueConstraint("batch_id", "domain"),
    # Counts by status and errors by code are index-only scans of this index.
    Index("ix_batch_domains_batch_status_code", "batch_id", "status", "error_code"),
    # The claim scans only claimable rows of one batch.
    Index(
        "ix_batch_domains_claim",
        "batch_id",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
    # The reaper scans only leased rows.
    Index(
        "ix_batch_domains_lease",
        "lease_expires_at",
        postgresql_where=text("status = 'processing'"),
        sqlite_where=text("status = 'processing'"),
    ),
)


# Revision 0004: live workers, upserted on each one's lease-extension tick, so `status` and
# /metrics can show every worker's concurrency level; a row silent for three leases is gone.
workers = Table(
    "workers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("pinned", Boolean, nullable=False),
    Column("inflight", Integer, nullable=False),
)


# Sharded counters (see counters.py): status reads never scan the domain rows.
batch_counts = Table(
    "batch_counts",
    metadata,
    Column("batch_id", String(36), ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
    Column("shard", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(32), nullable=False, server_default=""),
    Column("n", BigInteger, nullable=False),
    PrimaryKeyConstraint("batch_id", "shard", "status", "error_code"),
)


# clock_timestamp, not now(): a long transaction must not see time stand still.
PG_EPOCH_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"


class epoch_now(FunctionElement[float]):
    """The database clock in epoch seconds (one clock for a whole fleet of workers)."""

    type = Float()
    inherit_cache = True


@compiles(epoch_now, "postgresql")
def _epoch_now_pg(element: epoch_now, compiler: Any, **kw: Any) -> str:
    return PG_EPOCH_NOW


@compiles(epoch_now, "sqlite")
def _epoch_now_sqlite(element: epoch_now, compiler: Any, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"
