"""audit_keyed_chain: keyed (HMAC) audit hashes, signed checkpoints, the legacy boundary

Records written before this revision keep their unkeyed hashes (``hash_scheme`` 0); the hub
writes HMAC-SHA256 ones (1) from now on. If the chain already has records, its tip is signed as
the *legacy boundary* (a checkpoint of kind ``legacy``, with the Ed25519 key of
``HUB_AUDIT_CHECKPOINT_KEY``, generated into var/ outside production): verification accepts
unkeyed hashes up to it and never after, so records cannot be downgraded to the unkeyed scheme.

Upgrade with the hub's writers stopped: a record written by the old code after this revision
is unkeyed after the boundary, and ``hub audit verify`` reports it as a downgrade. Downgrading
this revision leaves keyed records that the older code cannot verify.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_scheme", sa.SmallInteger(), nullable=False, server_default="0")
        )
    checkpoints = op.create_table(
        "audit_checkpoint",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("seq", big, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.create_index("ix_audit_checkpoint_seq", ["seq"], unique=False)
    _sign_legacy_boundary(checkpoints)


def _sign_legacy_boundary(checkpoints: sa.Table) -> None:
    """Sign the tip of a chain written with unkeyed hashes, if there is one."""
    if op.get_context().as_sql:
        raise RuntimeError("0009 signs the audit chain's tip: run it online (hub db upgrade)")
    from hub.audit.checkpoints import CheckpointKind, signed_checkpoint

    head = (
        op.get_bind()
        .execute(sa.text("SELECT last_seq, last_hash FROM audit_head WHERE id = 1"))
        .first()
    )
    if head is None or not head.last_seq:
        return  # no records yet: every record will be keyed
    op.bulk_insert(
        checkpoints,
        [signed_checkpoint(int(head.last_seq), str(head.last_hash), CheckpointKind.LEGACY)],
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_checkpoint", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_checkpoint_seq")
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash_scheme")
