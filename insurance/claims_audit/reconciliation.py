"""Ledger reconciliation (对账明细): a facility's settlements of a day against the hub's, down to
the claim. Pure.

The facility's side is its detail file (the 3202 details as CSV): header
``setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag``, one row per settlement,
``setl_id`` the hub's Claim id (what 2207 answered), amounts in yuan, ``refd_setl_flag`` 1 when
the facility reversed it. A file in another shape or encoding is refused whole, naming the row
and field, before anything is compared.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from insurance.money import to_fen

DETAIL_COLUMNS = ("setl_id", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "refd_setl_flag")


class DetailFileError(ValueError):
    """The detail file cannot be read; the message names the row (header = row 1) and field."""


@dataclass(frozen=True)
class LedgerLine:
    setl_id: str
    submitted: int  # fen
    fund: int
    account: int
    reversed: bool = False

    def amounts(self) -> tuple[int, int, int]:
        return self.submitted, self.fund, self.account


class Difference(StrEnum):
    MISSING_AT_HUB = "missing-at-hub"
    MISSING_AT_FACILITY = "missing-at-facility"
    AMOUNTS_DIFFER = "amounts-differ"
    REVERSED_AT_HUB_ONLY = "reversed-at-hub-only"
    REVERSED_AT_FACILITY_ONLY = "reversed-at-facility-only"


@dataclass(frozen=True)
class Discrepancy:
    setl_id: str
    difference: Difference
    facility: LedgerLine | None
    hub: LedgerLine | None


@dataclass(frozen=True)
class Totals:
    count: int
    submitted: int
    fund: int
    account: int


def totals(lines: Iterable[LedgerLine]) -> Totals:
    """What 3201 compares: settlements not reversed, and their sums."""
    kept = [line for line in lines if not line.reversed]
    return Totals(
        len(kept),
        sum(line.submitted for line in kept),
        sum(line.fund for line in kept),
        sum(line.account for line in kept),
    )


def reconcile(
    facility: Mapping[str, LedgerLine], hub: Mapping[str, LedgerLine]
) -> list[Discrepancy]:
    """Every settlement the two sides do not agree on, in ``setl_id`` order."""
    found = []
    for setl_id in sorted(set(facility) | set(hub)):
        theirs, ours = facility.get(setl_id), hub.get(setl_id)
        if theirs is None:
            difference = Difference.MISSING_AT_FACILITY
        elif ours is None:
            difference = Difference.MISSING_AT_HUB
        elif ours.reversed and not theirs.reversed:
            difference = Difference.REVERSED_AT_HUB_ONLY
        elif theirs.reversed and not ours.reversed:
            difference = Difference.REVERSED_AT_FACILITY_ONLY
        elif theirs.amounts() != ours.amounts():
            difference = Difference.AMOUNTS_DIFFER
        else:
            continue
        found.append(Discrepancy(setl_id, difference, theirs, ours))
    return found


def parse_details(data: bytes) -> dict[str, LedgerLine]:
    """The facility's detail file; :class:`DetailFileError` for any bad row, before any use."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DetailFileError(f"the file is not UTF-8 (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != DETAIL_COLUMNS:
        raise DetailFileError(f"row 1: the header must be {','.join(DETAIL_COLUMNS)}")
    lines: dict[str, LedgerLine] = {}
    for row_number, row in enumerate(reader, start=2):
        if None in row or any(value is None for value in row.values()):
            raise DetailFileError(f"row {row_number}: expected {len(DETAIL_COLUMNS)} fields")
        setl_id = row["setl_id"].strip()
        if not setl_id:
            raise DetailFileError(f"row {row_number}: setl_id is empty")
        if setl_id in lines:
            raise DetailFileError(f"row {row_number}: setl_id {setl_id} is listed twice")
        amounts = []
        for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay"):
            try:
                amounts.append(to_fen(row[name].strip()))
            except ValueError as exc:
                raise DetailFileError(f"row {row_number}: {name}: {exc}") from None
        flag = row["refd_setl_flag"].strip() or "0"
        if flag not in ("0", "1"):
            raise DetailFileError(f"row {row_number}: refd_setl_flag must be 0 or 1")
        submitted, fund, account = amounts
        lines[setl_id] = LedgerLine(setl_id, submitted, fund, account, reversed=flag == "1")
    return lines
