"""console tallies: the claims-audit findings' figures indexed, and the planner's statistics

The console's figures are now counted and summed by the database (``FhirStore.count_each`` and
``tally``). Two things they need here:

- the new DetectedIssue search parameters (``service-day``, ``amount-at-risk``,
  ``recover-amount``: ``hub.fhir.search.hub_params``) indexed for the findings already
  stored, as the store indexes them on each write from now on;
- an index of each type's live rows by ``rid`` (``ix_fhir_resource_live``): a search joins its
  index lookups to the resource rows, and PostgreSQL scanned every row of every type for
  them (the findings summary 0.4 s, 0.2 s with the index, at 100,000 findings);
- on PostgreSQL, extended statistics on the index tables' lookup columns: the type, the
  parameter and the value are far from independent (every referral Task has the one code),
  and without them the planner guessed 1,886 rows for 100,000 and probed them one by one
  (the referral counts 2.9 s instead of 0.6 s at 100,000 Tasks).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import logging

import orjson
import sqlalchemy as sa
from alembic import op

from hub.fhir.search.extract import extract_values
from hub.fhir.search_parameters import RESOURCE_DEFS

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
FINDING = "DetectedIssue"
PARAMS = ("service-day", "amount-at-risk", "recover-amount")
STATISTICS = {
    "st_search_token_lookup": "resource_type, param, code, system FROM search_token",
    "st_search_date_lookup": "resource_type, param FROM search_date",
}
BATCH = 1000


def upgrade() -> None:
    bind = op.get_bind()
    params = [RESOURCE_DEFS[FINDING].params[name] for name in PARAMS]
    dates = sa.table("search_date", *(sa.column(c) for c in
                     ("rid", "resource_type", "param", "low", "high")))  # fmt: skip
    quantities = sa.table("search_quantity", *(sa.column(c) for c in
                          ("rid", "resource_type", "param", "value", "system", "code")))  # fmt: skip
    stored = bind.execute(
        sa.text(
            "SELECT rid, content FROM fhir_resource "
            "WHERE resource_type = :type AND deleted = false AND content IS NOT NULL"
        ),
        {"type": FINDING},
    )
    indexed = 0
    while rows := stored.fetchmany(BATCH):
        found_dates, found_quantities = [], []
        for rid, content in rows:
            values = extract_values(orjson.loads(content), params)
            found_dates += [{"rid": rid, "resource_type": FINDING, "param": p, "low": low,
                             "high": high} for p, low, high in values.dates]  # fmt: skip
            found_quantities += [{"rid": rid, "resource_type": FINDING, "param": p, "value": v,
                                  "system": s, "code": c}
                                 for p, v, s, c in values.quantities]  # fmt: skip
        if found_dates:
            bind.execute(dates.insert(), found_dates)
        if found_quantities:
            bind.execute(quantities.insert(), found_quantities)
        indexed += len(rows)
    log.info("indexed %d claims-audit findings' service day and amounts", indexed)
    op.create_index(
        "ix_fhir_resource_live",
        "fhir_resource",
        ["resource_type", "rid"],
        postgresql_where=sa.text("NOT deleted"),
        sqlite_where=sa.text("NOT deleted"),
    )
    if bind.dialect.name == "postgresql":
        for name, columns in STATISTICS.items():
            op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (dependencies, mcv) ON {columns}")
        op.execute("ANALYZE search_token, search_date, search_quantity")


def downgrade() -> None:
    op.drop_index("ix_fhir_resource_live", table_name="fhir_resource")
    if op.get_bind().dialect.name == "postgresql":
        for name in STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    for table in ("search_date", "search_quantity"):
        op.execute(
            sa.text(f"DELETE FROM {table} WHERE resource_type = :type AND param IN :params")
            .bindparams(sa.bindparam("params", expanding=True))
            .bindparams(type=FINDING, params=list(PARAMS))
        )
