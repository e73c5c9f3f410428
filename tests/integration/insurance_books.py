"""The settlement ledger as the database holds it, for the concurrency tests' checks."""

from __future__ import annotations

import sqlalchemy as sa


def books(url: str, patient: str) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    """From the database: the patient's accumulator row (deductible used, fund paid, account
    balance), the sums of their ledger entries (deductible, fund, account paid) and how many
    settlements they have."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT deductible_used, fund_paid, account_balance FROM insurance_accumulator"
                    " WHERE patient_id = :p"
                ),
                {"p": patient},
            ).one()
            entries = connection.execute(
                sa.text(
                    "SELECT coalesce(sum(e.deductible), 0), coalesce(sum(e.fund), 0),"
                    " coalesce(sum(e.account), 0), count(DISTINCT s.id)"
                    " FROM insurance_ledger_entry e"
                    " JOIN insurance_settlement s ON s.id = e.settlement_id WHERE s.patient_id = :p"
                ),
                {"p": patient},
            ).one()
    finally:
        engine.dispose()
    ledger = (int(entries[0]), int(entries[1]), int(entries[2]))
    return (int(row[0]), int(row[1]), int(row[2])), ledger, int(entries[3])
