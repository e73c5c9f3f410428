"""audit records linked after commit: hashes nullable until the chainer links them

Writers no longer lock the chain's head: each record is inserted with its sequence number and no
hash, in the request's own transaction, and the chainer (``hub.audit.linking``) links them in
sequence order after commit. On PostgreSQL the numbers come from the column's sequence, which is
moved past every number already used.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SEQUENCE = "audit_log_seq_seq"


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(64), nullable=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE} OWNED BY audit_log.seq")
        op.execute(f"ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('{SEQUENCE}')")
        # Past every number used: records kept, and the head (records pruned up to it).
        op.execute(
            "WITH used AS (SELECT GREATEST("
            "(SELECT COALESCE(MAX(seq), 0) FROM audit_log), "
            "(SELECT COALESCE(MAX(last_seq), 0) FROM audit_head)) AS n) "
            f"SELECT setval('{SEQUENCE}', GREATEST(n, 1), n > 0) FROM used"
        )


def downgrade() -> None:
    # Only a fully linked chain can go back (run ``hub audit link`` first): with a record still
    # unlinked the NOT NULL change fails, and nothing is dropped to make it pass.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(64), nullable=False)
