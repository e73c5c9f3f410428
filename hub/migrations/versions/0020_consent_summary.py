"""consent summary: one row per active Consent and recipient, kept on every Consent write

``consent_summary`` lets a search find the patients whose consents can reach the caller in one
query (``consent.summary``). Filled here from the Consents already stored: the current, not
deleted version of each, as the write hook would have written it.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import logging

import orjson
import sqlalchemy as sa
from alembic import op

import hub.db
from consent.rules import consent_rules, patient_of
from consent.summary import summary_rows
from hub.errors import InvalidResource

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    summary = op.create_table(
        "consent_summary",
        sa.Column("consent_id", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("period_end", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("consent_id", "actor"),
    )
    op.create_index("ix_consent_summary_actor", "consent_summary", ["actor", "patient_id"])
    op.create_index("ix_consent_summary_patient", "consent_summary", ["patient_id"])
    stored = op.get_bind().execute(
        sa.text(
            "SELECT resource_id, content FROM fhir_resource "
            "WHERE resource_type = 'Consent' AND deleted = false AND content IS NOT NULL"
        )
    )
    rows = []
    for resource_id, content in stored:
        consent = orjson.loads(content)
        try:
            rows.extend(summary_rows(resource_id, patient_of(consent), consent_rules(consent)))
        except InvalidResource as exc:  # stored before a stricter check: never applied either
            log.warning("consent summary: skipping Consent/%s: %s", resource_id, exc.diagnostics)
    if rows:
        op.bulk_insert(summary, rows)


def downgrade() -> None:
    op.drop_index("ix_consent_summary_patient", table_name="consent_summary")
    op.drop_index("ix_consent_summary_actor", table_name="consent_summary")
    op.drop_table("consent_summary")
