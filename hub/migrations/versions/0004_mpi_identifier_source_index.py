"""mpi_identifier: index on source_row

Re-registering a source replaces its identifier rows (DELETE ... WHERE source_row = ?); without
this index every registration scanned the whole cross-reference table (94% of registration time
at 1,000,000 source records in bench/mpi_speed.py).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mpi_identifier_source", "mpi_identifier", ["source_row"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mpi_identifier_source", table_name="mpi_identifier")
