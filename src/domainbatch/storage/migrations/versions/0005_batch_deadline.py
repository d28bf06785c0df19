"""A batch's deadline and the percentiles of its completion.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("deadline_seconds", "deadline_at", "t50", "t90", "t99", "t100")


def upgrade() -> None:
    # Nullable, no default: added in place on SQLite and Postgres, however many batches.
    for name in COLUMNS:
        op.add_column("batches", sa.Column(name, sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("batches") as batch:  # SQLite rebuilds the table
        for name in COLUMNS:
            batch.drop_column(name)
