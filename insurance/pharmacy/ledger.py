"""The pharmacy ledger's reads and writes: each decision is one conditional statement.

Units are taken from a prescription by ``UPDATE ... SET remaining = remaining - n WHERE
remaining >= n RETURNING``: of two pharmacies dispensing the last units at once, the second
finds no row to change once the first commits (PostgreSQL re-checks the condition on the row
it waited for), and is refused. A dispense is linked to one unreleased settlement by a unique
index; a reversal releases the link, never deletes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from insurance.pharmacy.models import DispenseCountRow, DispenseSettlementRow, PrescriptionSupplyRow


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


@dataclass(frozen=True)
class Counted:
    prescription_id: str
    quantity: int


def counted(session: Session, dispense_id: str) -> Counted | None:
    """What a dispense counts now against which prescription (None: never counted)."""
    row = session.execute(
        select(DispenseCountRow.prescription_id, DispenseCountRow.quantity)
        .where(DispenseCountRow.dispense_id == dispense_id)
        .with_for_update()
    ).first()
    return Counted(row[0], int(row[1])) if row else None


def open_supply(session: Session, prescription_id: str, allowed: int) -> None:
    """The prescription's row, with all of ``allowed`` remaining, unless it has one."""
    session.execute(
        _insert(session)(PrescriptionSupplyRow)
        .values(prescription_id=prescription_id, allowed=allowed, remaining=allowed)
        .on_conflict_do_nothing()
    )


def take(session: Session, prescription_id: str, quantity: int) -> bool:
    """Take ``quantity`` units; False (nothing taken) when fewer remain."""
    taken = session.execute(
        update(PrescriptionSupplyRow)
        .where(
            PrescriptionSupplyRow.prescription_id == prescription_id,
            PrescriptionSupplyRow.remaining >= quantity,
        )
        .values(remaining=PrescriptionSupplyRow.remaining - quantity)
        .returning(PrescriptionSupplyRow.remaining)
    ).first()
    return taken is not None


def give_back(session: Session, prescription_id: str, quantity: int) -> None:
    session.execute(
        update(PrescriptionSupplyRow)
        .where(PrescriptionSupplyRow.prescription_id == prescription_id)
        .values(remaining=PrescriptionSupplyRow.remaining + quantity)
    )


def remaining(session: Session, prescription_id: str) -> int | None:
    found = session.execute(
        select(PrescriptionSupplyRow.remaining).where(
            PrescriptionSupplyRow.prescription_id == prescription_id
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


def record_count(session: Session, dispense_id: str, prescription_id: str, quantity: int) -> None:
    session.execute(
        _insert(session)(DispenseCountRow)
        .values(dispense_id=dispense_id, prescription_id=prescription_id, quantity=quantity)
        .on_conflict_do_update(index_elements=["dispense_id"], set_={"quantity": quantity})
    )


def is_settled(session: Session, dispense_id: str) -> bool:
    return (
        session.execute(
            select(DispenseSettlementRow.id).where(
                DispenseSettlementRow.dispense_id == dispense_id,
                DispenseSettlementRow.released.is_(False),
            )
        ).first()
        is not None
    )


def link_settlement(session: Session, settlement_id: int, dispense_ids: list[str]) -> None:
    """Link the dispenses to the settlement; IntegrityError when one is settled already."""
    for dispense_id in dispense_ids:
        session.add(
            DispenseSettlementRow(
                dispense_id=dispense_id, settlement_id=settlement_id, released=False
            )
        )
    session.flush()


def release_settlement(session: Session, settlement_id: int) -> None:
    session.execute(
        update(DispenseSettlementRow)
        .where(DispenseSettlementRow.settlement_id == settlement_id)
        .values(released=True)
        .execution_options(synchronize_session=False)
    )
