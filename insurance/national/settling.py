"""2206, 2207, 2208, 2601 and 3201 on the hub: the national messages handed to the same
settlement service (:mod:`insurance.settlement.service`) that ``Claim/$submit`` and
``Claim/{id}/$cancel`` call, keyed by the message id in the same ledger.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.errors import PreconditionFailed
from hub.fhir.store import FhirStore
from insurance.national import records
from insurance.national.envelope import REGION_TZ, Envelope, NationalError, digest, node
from insurance.national.fees import OPEN, SETTLED
from insurance.national.records import Insured
from insurance.national.settle import (
    SettleRequest,
    claim,
    mark_reversed_by,
    msgid_key,
    reversal,
    reversed_by,
    setlinfo,
    settle_request,
    settlement_cancel,
)
from insurance.national.statement import statement, statement_request
from insurance.resources import INSUTYPE, reference
from insurance.settlement import ledger, service
from insurance.settlement.totals import facility_totals

SETTLE_INFNO = "2207"


def _claim_for(
    store: FhirStore, envelope: Envelope, request: SettleRequest, use: str, *, settled_ok: bool
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Claim the message stands for, and the fee lines (as read) it was built from."""
    person = records.insured(store, envelope, request.psn_no, active=True)
    if request.insutype != INSUTYPE[person.terms.scheme]:
        raise NationalError(f"insutype {request.insutype} is not psn_no's scheme")
    visit = records.visit(store, envelope, request.mdtrt_id, person)
    lines = records.fee_lines(store, str(visit["id"]), request.chrg_bchno)
    if not settled_ok and any(line.get("status") == SETTLED for line in lines):
        raise NationalError(f"chrg_bchno {request.chrg_bchno} is settled already")
    body = claim(
        envelope,
        request,
        use=use,
        patient_id=person.patient_id,
        coverage_id=person.coverage_id,
        encounter_id=str(visit["id"]),
        visit_date=str((visit.get("period") or {}).get("start", ""))[:10],
        charge_items=lines,
        message_digest=digest(envelope),
    )
    return body, lines


def pre_settle(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2206: the split as it would be now; nothing is committed."""
    request = settle_request(node(envelope, "data"))
    body, _ = _claim_for(store, envelope, request, "predetermination", settled_ok=False)
    answer = service.pre_settle(store, body)
    return setlinfo(answer, request, msgid=envelope.msgid, setl_id=None, setl_time=None)


def settle(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2207: settle once per msgid; a retry answers the first ``setlinfo``."""
    request = settle_request(node(envelope, "data"))
    retry = ledger.settlement_for(store.session, msgid_key(envelope, envelope.msgid))
    body, lines = _claim_for(store, envelope, request, "claim", settled_ok=retry is not None)
    submitted = service.settle(store, body)
    if submitted.created:
        try:
            # The lines at the versions the Claim was built from, not read again: a message
            # that settled them meanwhile has moved their version, and this one fails whole.
            for line in lines:
                records.set_status(store, "ChargeItem", line, SETTLED)
        except PreconditionFailed:  # another msgid settled the batch since we read it
            raise NationalError(
                f"chrg_bchno {request.chrg_bchno} was settled meanwhile by another message"
            ) from None
    answer = submitted.response
    setl_id = reference(answer.get("request")).removeprefix("Claim/")
    return setlinfo(
        answer,
        request,
        msgid=envelope.msgid,
        setl_id=setl_id,
        setl_time=records.local_time(answer),
    )


def _encounter_of(claim_resource: dict[str, Any]) -> str:
    first = (claim_resource.get("item") or [{}])[0]
    return reference((first.get("encounter") or [{}])[0]).removeprefix("Encounter/")


def _reverse(
    store: FhirStore, envelope: Envelope, claim_id: str, person: Insured
) -> dict[str, Any]:
    """Reverse a settlement once; the same reversing msgid again answers the same."""
    stored = store.read("Claim", claim_id).as_dict()
    if reference(stored.get("patient")) != f"Patient/{person.patient_id}":
        raise NationalError(f"setl_id {claim_id} is not a settlement of psn_no {person.psn_no}")
    mine = f"{envelope.fixmedins_code}/{envelope.msgid}"
    if reversed_by(stored) == mine:
        row = ledger.settlement_of_claim(store.session, claim_id)
        first: dict[str, Any] = orjson.loads(row.response) if row else {}
    else:
        first = service.cancel(store, claim_id)  # Conflict when reversed already
        current = store.read("Claim", claim_id).as_dict()
        store.update("Claim", claim_id, mark_reversed_by(current, mine))
        for line in records.fee_lines(store, _encounter_of(stored), None):
            if line.get("status") == SETTLED:  # the HIS may settle them again, or cancel
                records.set_status(store, "ChargeItem", line, OPEN)
    request = SettleRequest(
        psn_no=person.psn_no,
        mdtrt_id=_mdtrt_id(store, stored),
        chrg_bchno="",
        insutype=INSUTYPE[person.terms.scheme],
        med_type="",
        medfee_sumamt=0,
        use_account=True,
        mdtrt_cert_type="",
    )
    return setlinfo(
        first,
        request,
        msgid=envelope.msgid,
        setl_id=claim_id,
        setl_time=records.local_time(store.read("Claim", claim_id).as_dict()),
        sign=-1,
    )


def _mdtrt_id(store: FhirStore, claim_resource: dict[str, Any]) -> str:
    encounter = store.read("Encounter", _encounter_of(claim_resource)).as_dict()
    return str((encounter.get("identifier") or [{}])[0].get("value", ""))


def cancel_settlement(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2208: reverse the settlement ``setl_id`` of the visit ``mdtrt_id``."""
    request = settlement_cancel(node(envelope, "data"))
    person = records.insured(store, envelope, request.psn_no, active=False)
    visit = records.visit(store, envelope, request.mdtrt_id, person)
    stored = store.read("Claim", request.setl_id).as_dict()
    if _encounter_of(stored) != str(visit["id"]):
        raise NationalError(f"setl_id {request.setl_id} is not of mdtrt_id {request.mdtrt_id}")
    return _reverse(store, envelope, request.setl_id, person)


def reverse_message(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2601 冲正: reverse the 2207 ``omsgid`` whose answer the HIS never received."""
    request = reversal(node(envelope, "data"))
    if request.oinfno != SETTLE_INFNO:
        raise NationalError(
            f"oinfno {request.oinfno}: only a settlement (2207) is reversed by 2601 here; "
            "visits and fee lines have their own cancels (2202, 2205)"
        )
    person = records.insured(store, envelope, request.psn_no, active=False)
    row = ledger.settlement_for(store.session, msgid_key(envelope, request.omsgid))
    if row is None:
        raise NationalError(f"omsgid {request.omsgid} settled nothing: nothing to reverse")
    _reverse(store, envelope, row.claim_id, person)
    return {}


def reconcile_totals(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """3201 对总账: the HIS's totals for the period against the hub's ledger."""
    request = statement_request(node(envelope, "data"))
    totals = facility_totals(
        store.session,
        facility=envelope.fixmedins_code,
        scheme=request.scheme,
        first_day=request.first_day,
        last_day=request.last_day,
        zone=REGION_TZ,
        with_refunds=request.with_refunds,
    )
    return statement(request, totals)
