"""smart patient login: public apps, login requests, authorization codes, refresh tokens, attempts

SMART App Launch standalone patient access (hub/auth/smart_app).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, hub.db.UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "auth_app_client",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("created"),
        sa.Column("description", sa.String(255), nullable=True),
    )
    op.create_table(
        "auth_login_request",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.String(1024), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(512), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("csrf_digest", sa.String(64), nullable=False),
        sa.Column("otp_digest", sa.String(64), nullable=True),
        _when("otp_expires_at", nullable=True),
        sa.Column("otp_attempts", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        _when("expires_at"),
    )
    op.create_table(
        "auth_authorization_code",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.String(1024), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        _when("expires_at"),
    )
    op.create_table(
        "auth_refresh_token",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        _when("expires_at"),
    )
    op.create_index("ix_auth_refresh_token_family", "auth_refresh_token", ["family"])
    op.create_table(
        "auth_login_attempt",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(128), nullable=False),
        _when("at"),
    )
    op.create_index("ix_auth_login_attempt_key_at", "auth_login_attempt", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_auth_login_attempt_key_at", table_name="auth_login_attempt")
    op.drop_table("auth_login_attempt")
    op.drop_index("ix_auth_refresh_token_family", table_name="auth_refresh_token")
    op.drop_table("auth_refresh_token")
    op.drop_table("auth_authorization_code")
    op.drop_table("auth_login_request")
    op.drop_table("auth_app_client")
