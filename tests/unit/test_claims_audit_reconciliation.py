"""Ledger reconciliation (pure): each kind of difference, the totals 3201 compares, and the
detail file refused whole for a bad row, naming the row and field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insurance.claims_audit.reconciliation import (
    DetailFileError,
    Difference,
    LedgerLine,
    Totals,
    parse_details,
    reconcile,
    totals,
)

HEADER = "setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"


def line(setl_id: str, submitted: int = 1000, fund: int = 700, account: int = 300,
         reversed_: bool = False) -> LedgerLine:  # fmt: skip
    return LedgerLine(setl_id, submitted, fund, account, reversed_)


def test_every_kind_of_difference_down_to_the_claim() -> None:
    facility = {
        "A": line("A"), "B": line("B", fund=600), "C": line("C"), "D": line("D"),
        "E": line("E", reversed_=True),
    }  # fmt: skip
    hub = {
        "A": line("A"), "B": line("B"), "D": line("D", reversed_=True), "E": line("E"),
        "F": line("F"),
    }  # fmt: skip
    found = {d.setl_id: d.difference for d in reconcile(facility, hub)}
    assert found == {
        "B": Difference.AMOUNTS_DIFFER,
        "C": Difference.MISSING_AT_HUB,
        "D": Difference.REVERSED_AT_HUB_ONLY,
        "E": Difference.REVERSED_AT_FACILITY_ONLY,
        "F": Difference.MISSING_AT_FACILITY,
    }


def test_totals_leave_reversed_settlements_out() -> None:
    assert totals([line("A"), line("B", 500, 100, 0), line("C", reversed_=True)]) == Totals(
        2, 1500, 800, 300
    )


_lines = st.dictionaries(
    st.text("abc0123", min_size=1, max_size=6),
    st.tuples(st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.booleans()),
    max_size=30,
).map(lambda d: {k: LedgerLine(k, *v) for k, v in d.items()})


@given(_lines)
def test_a_ledger_agrees_with_itself(lines: dict[str, LedgerLine]) -> None:
    assert reconcile(lines, dict(lines)) == []


@given(_lines, _lines)
def test_a_difference_is_reported_exactly_where_the_sides_differ(
    a: dict[str, LedgerLine], b: dict[str, LedgerLine]
) -> None:
    reported = {d.setl_id for d in reconcile(a, b)}
    assert reported == {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def test_the_detail_file_in_yuan() -> None:
    lines = parse_details(("\ufeff" + HEADER + "C1,10.00,7.00,3.00,0\nC2,0.35,0.28,0,1\n").encode())
    assert lines["C1"] == line("C1")
    assert lines["C2"] == LedgerLine("C2", 35, 28, 0, True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"setl_id,medfee\nC1,1\n", "row 1: the header"),
        (HEADER.encode() + b"C1,10.001,7,3,0\n", "row 2: medfee_sumamt"),
        (HEADER.encode() + b"C1,10,7,3,0\nC1,10,7,3,0\n", "row 3: setl_id C1 is listed twice"),
        (HEADER.encode() + b"C1,10,7,3,2\n", "row 2: refd_setl_flag"),
        (HEADER.encode() + b"C1,10,7\n", "row 2: expected 5 fields"),
        (HEADER.encode() + b",10,7,3,0\n", "row 2: setl_id is empty"),
        (HEADER.encode() + "C1,10,7,3,0,医保\n".encode("gbk"), "not UTF-8"),
    ],
)
def test_a_bad_detail_file_is_refused_naming_row_and_field(content: bytes, message: str) -> None:
    with pytest.raises(DetailFileError, match=message):
        parse_details(content)
