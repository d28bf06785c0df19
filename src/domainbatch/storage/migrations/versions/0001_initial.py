"""Batches and their domains.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("processor", sa.String(200), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("invalid", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
    )
    op.create_index("ix_batches_created", "batches", ["created_at", "id"])
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "batch_domains",
        sa.Column("id", BigId, autoincrement=True),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("domain", sa.String(253)),
        sa.Column("display", sa.String(253)),
        sa.Column("raw_input", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False, server_default="0"),
        sa.Column("lease_expires_at", sa.Float),
        sa.Column("worker_id", sa.String(64)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_message", sa.Text),
        sa.Column("result", sa.JSON),
        sa.Column("started_at", sa.Float),
        sa.Column("finished_at", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_batch_domains"),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_batch_domains_batch_id_batches",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("batch_id", "domain", name="uq_batch_domains_batch_id_domain"),
    )
    op.create_index(
        "ix_batch_domains_batch_status_code",
        "batch_domains",
        ["batch_id", "status", "error_code"],
    )
    op.create_index(
        "ix_batch_domains_claim",
        "batch_domains",
        ["batch_id", "next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_batch_domains_lease",
        "batch_domains",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'processing'"),
        sqlite_where=sa.text("status = 'processing'"),
    )
    op.create_table(
        "batch_counts",
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(32), nullable=False, server_default=""),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "batch_id", "shard", "status", "error_code", name="pk_batch_counts"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_batch_counts_batch_id_batches",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("batch_counts")
    op.drop_table("batch_domains")
    op.drop_table("batches")
