"""The national interface's pure parsing and field mapping, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest

from insurance.adjudication import Accumulators, ClaimLine, Context, adjudicate
from insurance.national.envelope import NationalError, answer, digest, parse_envelope
from insurance.national.fees import charge_item, fee_line
from insurance.national.settle import claim, setlinfo, settle_request
from insurance.national.statement import LedgerTotals, statement, statement_request
from insurance.policy import Scheme, load_policy
from insurance.resources import claim_lines, claim_response

ENVELOPE = {
    "infno": "2207",
    "msgid": "H00120260301090000000001",
    "mdtrtarea_admvs": "420502",
    "fixmedins_code": "H001",
    "input": {"data": {"psn_no": "P1"}},
}
ROW = {
    "feedetl_sn": "1",
    "mdtrt_id": "M1",
    "psn_no": "P1",
    "chrg_bchno": "B1",
    "fee_ocur_time": "2026-03-01 09:10:00",
    "med_list_codg": "XN02BEA001B002010100005",
    "medins_list_codg": "L1",
    "det_item_fee_sumamt": "9.00",
    "cnt": "10.0000",
    "pric": "0.90",
}
SETTLE = {
    "psn_no": "P1",
    "mdtrt_cert_type": "02",
    "med_type": "11",
    "medfee_sumamt": "9.00",
    "psn_setlway": "01",
    "mdtrt_id": "M1",
    "chrg_bchno": "B1",
    "insutype": "310",
    "acct_used_flag": "1",
}


def test_envelope_parses_and_refuses_what_is_malformed() -> None:
    envelope = parse_envelope(orjson.dumps(dict(ENVELOPE, cainfo="x")))
    assert envelope.infno == "2207" and envelope.input["data"]["psn_no"] == "P1"
    for broken in (b"not json", b"[]", orjson.dumps(dict(ENVELOPE, msgid="x" * 31))):
        with pytest.raises(NationalError):
            parse_envelope(broken)
    without_input = {k: v for k, v in ENVELOPE.items() if k != "input"}
    with pytest.raises(NationalError, match="input"):
        parse_envelope(orjson.dumps(without_input))


def test_digest_tells_a_retry_from_other_content() -> None:
    first = parse_envelope(orjson.dumps(ENVELOPE))
    retry = parse_envelope(orjson.dumps(dict(ENVELOPE, inf_time="2026-03-01 09:00:01")))
    other = parse_envelope(orjson.dumps(dict(ENVELOPE, input={"data": {"psn_no": "P2"}})))
    assert digest(first) == digest(retry) != digest(other)


def test_answer_envelope() -> None:
    ok = answer("420502", datetime(2026, 3, 1, tzinfo=UTC), {"a": 1})
    assert ok["infcode"] == 0 and ok["output"] == {"a": 1} and len(ok["inf_refmsgid"]) == 30
    failed = answer("420502", datetime(2026, 3, 1, tzinfo=UTC), {"a": 1}, "bad")
    assert failed["infcode"] == -1 and failed["err_msg"] == "bad" and failed["output"] is None


def test_fee_line_checks_its_sum_and_a_whole_count() -> None:
    line = fee_line(ROW)
    assert (line.quantity, line.unit_price, line.total) == (10, 90, 900)
    with pytest.raises(NationalError, match="det_item_fee_sumamt"):
        fee_line(dict(ROW, det_item_fee_sumamt="9.01"))
    with pytest.raises(NationalError, match="cnt"):
        fee_line(dict(ROW, cnt="1.5", det_item_fee_sumamt="1.35"))
    with pytest.raises(NationalError, match="HH:mm:ss"):
        fee_line(dict(ROW, fee_ocur_time="2026-03-01"))


def _claim(total: str = "9.00") -> dict[str, Any]:
    envelope = parse_envelope(orjson.dumps(ENVELOPE))
    item = charge_item(fee_line(ROW), "pat", "enc")
    return claim(
        envelope,
        settle_request(dict(SETTLE, medfee_sumamt=total)),
        use="claim",
        patient_id="pat",
        coverage_id="cov",
        encounter_id="enc",
        visit_date="2026-03-01",
        charge_items=[item],
        message_digest="d",
    )


def test_claim_from_fee_lines_is_keyed_by_msgid_and_checks_the_total() -> None:
    body = _claim()
    assert body["identifier"][0]["value"] == "H001/H00120260301090000000001"
    assert [(line.code, line.quantity, line.unit_price) for line in claim_lines(body)] == [
        ("XN02BEA001B002010100005", 10, 90)
    ]
    with pytest.raises(NationalError, match="medfee_sumamt"):
        _claim("9.10")
    with pytest.raises(NationalError, match="acct_used_flag"):
        settle_request(dict(SETTLE, acct_used_flag="2"))


def test_setlinfo_renders_the_core_split_exactly() -> None:
    policy = load_policy().on(date(2026, 3, 1))
    benefit = policy.benefit(Scheme.UEBMI, 3)
    assert benefit is not None
    lines = [
        ClaimLine(1, "XN02BEA001B002010100005", 10, 90),
        ClaimLine(2, "001102000000100", 1, 1000),
    ]
    result = adjudicate(policy, Accumulators(0, 0, 500), lines, Context(benefit, 3))
    body = _claim()
    response = claim_response(body, result, settled=True, claim_id="c1")
    request = settle_request(SETTLE)
    info = setlinfo(response, request, msgid="m", setl_id="c1", setl_time=None)["setlinfo"]
    total = result.total
    assert info["medfee_sumamt"] == total.submitted / 100
    assert info["fund_pay_sumamt"] == total.fund / 100 and info["acct_pay"] == total.account / 100
    assert info["psn_cash_pay"] == total.cash / 100
    assert info["balc"] == result.after.account_balance / 100
    assert info["preselfpay_amt"] == total.self_paid / 100
    negative = setlinfo(response, request, msgid="m", setl_id="c1", setl_time=None, sign=-1)
    assert negative["setlinfo"]["medfee_sumamt"] == -info["medfee_sumamt"]


def test_statement_compares_every_total() -> None:
    data = {
        "insutype": "310",
        "clr_type": "11",
        "setl_optins": "420502",
        "stmt_begndate": "2026-03-01",
        "stmt_enddate": "2026-03-01",
        "medfee_sumamt": "19.00",
        "fund_pay_sumamt": "5.00",
        "acct_pay": "3.00",
        "fixmedins_setl_cnt": 1,
    }
    request = statement_request(data)
    assert request.with_refunds and request.scheme is Scheme.UEBMI
    assert statement(request, LedgerTotals(1, 1900, 500, 300))["stmtinfo"]["stmt_rslt"] == "0"
    unbalanced = statement(request, LedgerTotals(1, 1900, 500, 301))["stmtinfo"]
    assert unbalanced["stmt_rslt"] == "1" and "3.01" in unbalanced["stmt_rslt_dscr"]
    with pytest.raises(NationalError, match="insutype"):
        statement_request(dict(data, insutype="510"))
    with pytest.raises(NationalError, match="stmt_enddate"):
        statement_request(dict(data, stmt_enddate="2026-02-28"))
