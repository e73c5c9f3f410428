"""A day's reconciliation as PaymentReconciliation (pure): the facility's side both ways, the
hub's answer with its drill-down, the recovery record; and who may hold and write them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.fhir import access
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.validation import validate_resource
from hub.fhir.write_access import decide_write
from hub.fhir.write_hooks import WriteKind
from insurance.claims_audit import reconcile_fhir as rf
from insurance.claims_audit import reconcile_hooks, recovery
from insurance.claims_audit.reconciliation import (
    DetailFileError,
    LedgerLine,
    parse_details,
    reconcile,
    totals,
)

DAY = date(2026, 3, 1)
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CSV = (
    b"setl_id,medfee_sumamt,fund_pay_sumamt,acct_pay,refd_setl_flag\n"
    b"S1,100.00,70.50,10,0\nS2,20,14,0,1\nS3,-5.00,-3.00,0,1\n"
)
DEFINITION = RESOURCE_DEFS["PaymentReconciliation"]


def test_the_facility_side_is_valid_fhir_and_reads_back_the_same() -> None:
    lines = parse_details(CSV)
    body = rf.upload_resource("H001", DAY, lines, NOW)
    validate_resource("PaymentReconciliation", body)
    assert body["id"] == "rcu-H001-20260301"
    assert body["requestor"] == {"reference": "Organization/H001"}
    assert body["paymentAmount"] == {"value": 70.5, "currency": "CNY"}  # reversed left out
    types = [d["type"]["coding"][0]["code"] for d in body["detail"]]
    assert types == ["payment", "adjustment", "adjustment"]
    assert rf.parse_upload(body, DAY) == lines


def test_an_odd_facility_code_still_gives_a_valid_id() -> None:
    assert rf.upload_id("H/01 x", DAY).startswith("rcu-") and len(rf.result_id("x" * 64, DAY)) < 64


def _detail(**changes: Any) -> dict[str, Any]:
    body = rf.upload_resource("H001", DAY, parse_details(CSV), NOW)
    detail: dict[str, Any] = body["detail"][0]
    detail.update(changes)
    return {**body, "detail": [detail]}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"resourceType": "Claim"}, "must be a PaymentReconciliation"),
        ({**_detail(), "period": {"start": "2026-03-02", "end": "2026-03-02"}}, ".period"),
        (_detail(identifier={"value": " "}), "detail[0].identifier"),
        (_detail(type={"coding": [{"code": "payment"}]}), "detail[0].type"),
        (_detail(amount={"value": 1.001, "currency": "CNY"}), "detail[0].amount: an amount"),
        (_detail(amount={"value": 1, "currency": "USD"}), "detail[0].amount: amounts are in CNY"),
        (_detail(amount={"value": True}), "detail[0].amount: not an amount"),
        (_detail(extension=[]), "needs medfee_sumamt"),
        ({**_detail(), "detail": [_detail()["detail"][0]] * 2}, "detail[1]: setl_id S1 twice"),
    ],
)
def test_a_bad_resource_is_refused_naming_the_element(body: Any, named: str) -> None:
    with pytest.raises(DetailFileError, match=named.replace("[", r"\[").replace("]", r"\]")):
        rf.parse_upload(body, DAY)


def test_the_result_lists_each_difference_with_both_sides_and_the_claim() -> None:
    theirs = {"S1": LedgerLine("S1", 100, 70, 10), "S9": LedgerLine("S9", 5, 5, 0)}
    ours = {"S1": LedgerLine("S1", 100, 71, 10), "S2": LedgerLine("S2", 20, 14, 0, True)}
    found = reconcile(theirs, ours)
    result = rf.result_resource(
        "H001", DAY, (totals(theirs.values()), totals(ours.values())), found,
        {"S1": "ClaimResponse/r1"}, NOW,
    )  # fmt: skip
    validate_resource("PaymentReconciliation", result)
    assert result["outcome"] == "partial" and result["id"] == "rcr-H001-20260301"
    by_id = {d["identifier"]["value"]: d for d in result["detail"]}
    assert by_id["S1"]["request"] == {"reference": "Claim/S1"}
    assert by_id["S1"]["response"] == {"reference": "ClaimResponse/r1"}
    assert "request" not in by_id["S9"]  # missing at the hub: nothing to drill into
    sides = {e["url"]: e for e in by_id["S1"]["extension"][1]["extension"]}
    assert sides["facility-fund_pay_sumamt"]["valueMoney"]["value"] == 0.7
    assert sides["hub-fund_pay_sumamt"]["valueMoney"]["value"] == 0.71
    codes = {d["identifier"]["value"]: d["extension"][0]["valueCode"] for d in result["detail"]}
    assert codes == {"S1": "amounts-differ", "S2": "missing-at-facility", "S9": "missing-at-hub"}
    balanced = rf.result_resource("H001", DAY, (totals([]), totals([])), [], {}, NOW)
    assert balanced["outcome"] == "complete" and balanced["disposition"] == "balanced"


def test_a_recovery_record_is_valid_and_sums_per_facility() -> None:
    body = recovery.recovery_resource("ca-abc", "H001", "C1", 350, NOW)
    validate_resource("PaymentReconciliation", body)
    assert body["id"] == "rcv-abc" and body["detail"][0]["amount"]["value"] == -3.5
    assert recovery.recovered_fen([body, dict(body, paymentAmount={"value": 0.05})]) == 355


def _actor(role: Role, facility: str = "H001") -> Actor:
    return Actor(client_id="c", facility=facility, role=role, scope="")


def test_a_facility_holds_only_what_names_it() -> None:
    mine = rf.result_resource("H001", DAY, (totals([]), totals([])), [], {}, NOW)
    access.require_facility_holds(_actor(Role.facility_system), mine, DEFINITION, "")
    access.require_facility_holds(_actor(Role.insurance_auditor, "YB"), mine, DEFINITION, "")
    with pytest.raises(Forbidden):
        access.require_facility_holds(_actor(Role.facility_system, "H002"), mine, DEFINITION, "")
    assert (
        access.facility_condition(_actor(Role.facility_system), "PaymentReconciliation") is not None
    )
    assert access.facility_condition(_actor(Role.operator), "PaymentReconciliation") is None
    assert access.facility_condition(_actor(Role.facility_system), "Claim") is None


@pytest.mark.parametrize(
    ("facility", "changes", "ok"),
    [
        ("H001", {}, True),
        ("H002", {}, False),  # in another facility's name
        ("H001", {"outcome": "complete"}, False),  # the hub's answer, forged
        ("H001", {"paymentIssuer": {"reference": "Organization/YB"}}, False),
        ("H001", {"requestor": None}, False),
    ],
)
def test_a_facility_writes_only_its_own_side(
    facility: str, changes: dict[str, Any], ok: bool
) -> None:
    body = {**rf.upload_resource("H001", DAY, {}, NOW), **changes}
    try:
        decide_write(_actor(Role.facility_system, facility), WriteKind.CREATE,
                     "PaymentReconciliation", None, body)  # fmt: skip
    except Forbidden:
        assert not ok
    else:
        assert ok


class _Store:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor


@pytest.mark.parametrize(
    ("role", "resource_id", "ok"),
    [
        (Role.facility_system, "rcu-H001-20260301", True),
        (Role.facility_system, "rcu-H001-20260302", False),  # another day's id
        (Role.facility_system, "rcr-H001-20260301", False),  # the hub's result
        (Role.facility_system, "rcv-abc", False),  # a recovery's
        (Role.operator, "rcv-abc", True),  # the hub writes those
    ],
)
def test_a_facility_writes_only_at_its_days_upload_id(
    role: Role, resource_id: str, ok: bool
) -> None:
    body = dict(rf.upload_resource("H001", DAY, {}, NOW), id=resource_id)
    check = reconcile_hooks.facility_writes_its_upload
    try:
        check(_Store(_actor(role)), WriteKind.CREATE, "PaymentReconciliation", body)  # type: ignore[arg-type]
    except Forbidden:
        assert not ok
    else:
        assert ok
    undated = {k: v for k, v in body.items() if k != "period"}
    with pytest.raises(Forbidden):
        check(_Store(_actor(Role.facility_system)), WriteKind.CREATE, "PaymentReconciliation",
              undated)  # type: ignore[arg-type]  # fmt: skip
