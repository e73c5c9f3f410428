"""console: staff accounts and their server-side sessions

``console_staff_user`` holds the web console's staff (a facility and a role each, an Argon2id
password hash, a TOTP secret, the failed sign-ins that lock it); ``console_session`` the
sessions, by the SHA-256 of the cookie's token, with their CSRF token and last request time.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_staff_user",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("facility", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("practitioner", sa.String(length=80), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    op.create_table(
        "console_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["username"], ["console_staff_user.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_console_session_username", "console_session", ["username"])


def downgrade() -> None:
    op.drop_index("ix_console_session_username", table_name="console_session")
    op.drop_table("console_session")
    op.drop_table("console_staff_user")
