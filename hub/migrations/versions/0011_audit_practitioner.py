"""audit_practitioner: the practitioner acting, on audit records (break-glass attributable)

The token's ``practitioner`` claim (``Practitioner/<id>``, :mod:`hub.auth.acting`) is kept on
each record of the access. Old rows keep NULL, which the hash leaves out: they verify unchanged.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("practitioner", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("practitioner")
