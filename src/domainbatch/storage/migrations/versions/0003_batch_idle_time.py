"""The time a batch sat ended before a retry reopened it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: SQLite adds the column in place and Postgres (11+) without
    # rewriting the table, however many batches it holds.
    op.add_column(
        "batches", sa.Column("idle_seconds", sa.Float, nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:  # SQLite rebuilds the table
        batch.drop_column("idle_seconds")
