"""3201 对总账: the facility's totals for a period against the hub's ledger. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from insurance.national.envelope import NationalError, amount, fen, text
from insurance.policy import Scheme
from insurance.resources import SCHEME_OF

BALANCED = "0"  # 平
UNBALANCED = "1"  # 不平 (医保中心多 in the platform's table)


@dataclass(frozen=True)
class LedgerTotals:
    count: int  # settlements, and with refunds included each reversal too
    submitted: int  # fen, signed: a reversal counts negative
    fund: int
    account: int


@dataclass(frozen=True)
class StatementRequest:
    scheme: Scheme
    setl_optins: str
    first_day: date
    last_day: date
    with_refunds: bool
    claimed: LedgerTotals


def _day(data: dict[str, Any], name: str) -> date:
    try:
        return date.fromisoformat(text(data, name, max_length=10))
    except ValueError:
        raise NationalError(f"{name} is not a date (yyyy-MM-dd)") from None


def statement_request(data: dict[str, Any]) -> StatementRequest:
    insutype = text(data, "insutype", max_length=6)
    if insutype not in SCHEME_OF:
        raise NationalError(f"insutype {insutype} is not settled by this hub (310, 390)")
    text(data, "clr_type", max_length=6)
    first, last = _day(data, "stmt_begndate"), _day(data, "stmt_enddate")
    if last < first:
        raise NationalError("stmt_enddate is before stmt_begndate")
    count = data.get("fixmedins_setl_cnt")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise NationalError("fixmedins_setl_cnt must be a whole number")
    # S4: absent or "1" includes refunds (reversals), "0" leaves them out.
    with_refunds = str(data.get("refd_setl_flag", "1")) != "0"
    return StatementRequest(
        scheme=SCHEME_OF[insutype],
        setl_optins=text(data, "setl_optins", max_length=6),
        first_day=first,
        last_day=last,
        with_refunds=with_refunds,
        claimed=LedgerTotals(
            count,
            fen(data, "medfee_sumamt"),
            fen(data, "fund_pay_sumamt"),
            fen(data, "acct_pay"),
        ),
    )


def statement(request: StatementRequest, ledger: LedgerTotals) -> dict[str, Any]:
    if ledger == request.claimed:
        return {
            "stmtinfo": {
                "setl_optins": request.setl_optins,
                "stmt_rslt": BALANCED,
                "stmt_rslt_dscr": "",
            }
        }
    return {
        "stmtinfo": {
            "setl_optins": request.setl_optins,
            "stmt_rslt": UNBALANCED,
            "stmt_rslt_dscr": (
                f"hub ledger: {ledger.count} settlements, medfee_sumamt "
                f"{amount(ledger.submitted)}, fund_pay_sumamt {amount(ledger.fund)}, "
                f"acct_pay {amount(ledger.account)}"
            ),
        }
    }
