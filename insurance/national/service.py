"""The national transactions on the hub: one handler per ``infno``, each given the caller's
store (its session, actor and audit) and the parsed envelope. Handlers never commit (the
view's unit of work does) and raise :class:`NationalError` or the store's ``FhirError`` for
the view to answer with ``infcode`` -1; on any error nothing they wrote stays.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.fhir.store import FhirStore
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from insurance.national import records, settling
from insurance.national.envelope import Envelope, NationalError, digest, node, node_list
from insurance.national.fees import (
    ALL_BATCHES,
    CANCELLED,
    SETTLED,
    batch_cancel,
    charge_item,
    fee_line,
    same_line,
    uploaded,
)
from insurance.national.person import person_output, person_query
from insurance.national.records import Insured
from insurance.national.visit import (
    encounter,
    message_digest_of,
    registered,
    registration,
    visit_ref,
)
from insurance.policy import load_policy
from insurance.resources import INSUTYPE, coverage_terms

Handler = Callable[[FhirStore, Envelope], dict[str, Any]]


def person_info(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """1101: the person and their coverage, with the personal account's balance now."""
    query = person_query(node(envelope, "data"))
    if query.psn_no:
        person = records.insured(store, envelope, query.psn_no, active=False)
        patient = store.read("Patient", person.patient_id).as_dict()
    else:
        found = records.patient_by_identifier(store, RESIDENT_ID_SYSTEM, query.resident_id)
        coverage = records.coverage_of(store, str(found["id"])) if found else None
        if found is None or coverage is None:
            raise NationalError("no insured person has this certificate number")
        patient = found
        terms = coverage_terms(coverage)
        person = Insured(records.psn_no_of(coverage), str(found["id"]), terms.coverage_id, terms)
    now = datetime.now(UTC)
    balance = records.account_balance(store, person, now)
    return person_output(
        person.psn_no, patient, query.resident_id, person.terms, balance, now.date()
    )


def register_visit(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2201: register a visit once per msgid (a retry answers the same mdtrt_id)."""
    request = registration(node(envelope, "data"))
    person = records.insured(store, envelope, request.psn_no, active=True)
    if request.insutype != INSUTYPE[person.terms.scheme]:
        raise NationalError(f"insutype {request.insutype} is not psn_no's scheme")
    message = digest(envelope)
    existing = records.visit_by_id(store, envelope.msgid)
    if existing is not None:
        if message_digest_of(existing) != message:
            raise NationalError(f"msgid {envelope.msgid} was used before with other content")
        return registered(envelope.msgid, request)
    store.create("Encounter", encounter(envelope, request, person.patient_id, message))
    return registered(envelope.msgid, request)


def cancel_visit(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2202: cancel a registration that has no settled fee line."""
    ref = visit_ref(node(envelope, "data"))
    person = records.insured(store, envelope, ref.psn_no, active=False)
    found = records.visit(store, envelope, ref.mdtrt_id, person)
    lines = records.fee_lines(store, str(found["id"]), None)
    if any(line.get("status") == SETTLED for line in lines):
        raise NationalError(f"mdtrt_id {ref.mdtrt_id} has a settlement: cancel it first (2208)")
    for line in lines:
        records.set_status(store, "ChargeItem", line, CANCELLED)
    records.set_status(store, "Encounter", found, "cancelled")
    return {}


def upload_fees(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2204: store the visit's fee lines; a line already stored alike is a retry."""
    lines = [fee_line(row) for row in node_list(envelope, "feedetail")]
    if len({(line.mdtrt_id, line.psn_no) for line in lines}) != 1:
        raise NationalError("one 2204 uploads the lines of one visit (mdtrt_id, psn_no)")
    person = records.insured(store, envelope, lines[0].psn_no, active=True)
    found = records.visit(store, envelope, lines[0].mdtrt_id, person)
    policy = load_policy().on(datetime.now(UTC).date())
    for line in lines:
        if policy.item(line.code) is None:
            raise NationalError(
                f"feedetl_sn {line.feedetl_sn}: {line.code} is not in the catalogue"
            )
        stored = records.fee_line_by_key(store, line.mdtrt_id, line.feedetl_sn)
        if stored is None:
            store.create("ChargeItem", charge_item(line, person.patient_id, str(found["id"])))
        elif not same_line(stored, line):
            raise NationalError(f"feedetl_sn {line.feedetl_sn} was uploaded with other content")
    return {"result": [uploaded(line) for line in lines]}


def cancel_fees(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """2205: cancel a batch's unsettled lines ("0000": every unsettled line of the visit)."""
    request = batch_cancel(node(envelope, "data"))
    person = records.insured(store, envelope, request.psn_no, active=False)
    found = records.visit(store, envelope, request.mdtrt_id, person)
    everything = request.chrg_bchno == ALL_BATCHES
    lines = records.fee_lines(store, str(found["id"]), None if everything else request.chrg_bchno)
    if not everything and any(line.get("status") == SETTLED for line in lines):
        raise NationalError(f"chrg_bchno {request.chrg_bchno} is settled: cancel that first")
    for line in lines:
        if line.get("status") != SETTLED:
            records.set_status(store, "ChargeItem", line, CANCELLED)
    return {}


HANDLERS: dict[str, Handler] = {
    "1101": person_info,
    "2201": register_visit,
    "2202": cancel_visit,
    "2204": upload_fees,
    "2205": cancel_fees,
    "2206": settling.pre_settle,
    "2207": settling.settle,
    "2208": settling.cancel_settlement,
    "2601": settling.reverse_message,
    "3201": settling.reconcile_totals,
}


def handle(store: FhirStore, envelope: Envelope) -> dict[str, Any]:
    """The ``output`` of one national message, or :class:`NationalError`."""
    handler = HANDLERS.get(envelope.infno)
    if handler is None:
        offered = ", ".join(sorted(HANDLERS))
        raise NationalError(f"infno {envelope.infno} is not offered by this hub ({offered})")
    return handler(store, envelope)
