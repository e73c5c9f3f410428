"""The synthetic month's records as FHIR R4, built coherently. Pure: no I/O.

:class:`Month` holds what a region's month produced: Patients, Practitioners, Encounters,
MedicationRequests and MedicationDispenses, settled Claims and their ClaimResponses (the fund's
share per item), and the truth rows of the planted cases. Its methods write one visit's parts
the way a hospital's HIS and the fund would: a dispense names its prescription
(``authorizingPrescription``) and its encounter (``context``); a Claim's items carry the
catalogue code (the same coding the MedicationRequest uses), the service day and the encounter.
Times are local (Asia/Shanghai, +08:00), in working hours, so a day means the same day in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from insurance.money import money
from insurance.policy import FULL, CatalogueItem, ItemClass, ItemKind, PolicyVersion
from insurance.resources import ADJUDICATION, CATALOGUE_SYSTEM, HUB

LOCAL = timezone(timedelta(hours=8))
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLAIM_ID_SYSTEM = f"{HUB}/sid/his-settlement"  # the facility's own settlement number
INSURED_SYSTEM = f"{HUB}/sid/insured-person"
UCUM = "http://unitsofmeasure.org"
FUND_RATIO_BP = 9000  # the ratio the synthetic fund pays above a zero deductible
SINK_BATCH = 50_000  # records held before they go to the sink


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL)


def _ref(resource_type: str, rid: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{rid}"}


def _concept(code: str, display: str, system: str = CATALOGUE_SYSTEM) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _days(days: int) -> dict[str, Any]:
    return {"value": days, "unit": "days", "system": UCUM, "code": "d"}


@dataclass(frozen=True)
class Supply:
    """A drug for a person at an encounter: prescribed, or (part of it) handed over."""

    person: str
    encounter: str
    code: str
    quantity: int
    days: int
    when: datetime


@dataclass(frozen=True)
class Line:
    """One billed item: ``paid`` forces the fund to pay (a 丙 item paid), else the policy."""

    code: str
    quantity: int
    day: date
    encounter: str | None
    paid: bool = False


@dataclass(frozen=True)
class TruthRow:
    case: str
    rule: str
    kind: str  # "planted" or "near-miss"
    variant: str
    claims: tuple[str, ...]
    encounters: tuple[str, ...] = ()
    dispenses: tuple[str, ...] = ()


Sink = Callable[[dict[str, list[dict[str, Any]]]], None]


@dataclass
class Month:
    """A region's month under construction; ids are ``prefix`` + a kind letter + a number."""

    policy: PolicyVersion
    prefix: str
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    truth: list[TruthRow] = field(default_factory=list)
    sink: Sink | None = None
    claims_count: int = 0
    _count: int = 0
    _pending: int = 0
    _items: dict[str, CatalogueItem] = field(default_factory=dict)

    def new_id(self, kind: str) -> str:
        self._count += 1
        return f"{self.prefix}-{kind}{self._count}"

    def add(self, resource: dict[str, Any]) -> str:
        self.resources.setdefault(resource["resourceType"], []).append(resource)
        self._pending += 1
        self.claims_count += resource["resourceType"] == "Claim"
        return str(resource["id"])

    def settle(self, *, at_least: int | None = None) -> None:
        """Hand the records made so far to the sink (between persons and cases, never within
        one), so a large month is written as it is made rather than held in memory."""
        limit = SINK_BATCH if at_least is None else at_least
        if self.sink is not None and self._pending >= limit:
            self.sink(self.resources)
            self.resources = {}
            self._pending = 0

    def patient(self, sex: str, birth: date, death: date | None = None) -> str:
        body: dict[str, Any] = {
            "resourceType": "Patient",
            "id": self.new_id("p"),
            "gender": sex,
            "birthDate": birth.isoformat(),
        }
        if death is not None:
            body["deceasedDateTime"] = at(death, 18).isoformat()
        return self.add(body)

    def practitioner(self, facility: str, number: int) -> str:
        return self.add(
            {
                "resourceType": "Practitioner",
                "id": f"{self.prefix}-dr-{facility}-{number}",
                "name": [{"text": f"医师 {facility}-{number}"}],
            }
        )

    def encounter(
        self,
        person: str,
        facility: str,
        start: datetime,
        end: datetime,
        diagnosis: str,
        *,
        inpatient: bool = False,
    ) -> str:
        kind = ("IMP", "inpatient encounter") if inpatient else ("AMB", "ambulatory")
        return self.add(
            {
                "resourceType": "Encounter",
                "id": self.new_id("e"),
                "status": "finished",
                "class": {"system": ACT_CODE, "code": kind[0], "display": kind[1]},
                "subject": _ref("Patient", person),
                "serviceProvider": _ref("Organization", facility),
                "period": {"start": start.isoformat(), "end": end.isoformat()},
                "reasonCode": [{"coding": [{"system": ICD10, "code": diagnosis}]}],
            }
        )

    def prescribe(self, supply: Supply, requester: str) -> str:
        return self.add(
            {
                "resourceType": "MedicationRequest",
                "id": self.new_id("r"),
                "status": "completed",
                "intent": "order",
                "medicationCodeableConcept": _concept(supply.code, self._item(supply.code).name),
                "subject": _ref("Patient", supply.person),
                "encounter": _ref("Encounter", supply.encounter),
                "authoredOn": supply.when.isoformat(),
                "requester": _ref("Practitioner", requester),
                "dispenseRequest": {
                    "quantity": {"value": supply.quantity, "unit": "unit"},
                    "expectedSupplyDuration": _days(supply.days),
                },
            }
        )

    def dispense(self, supply: Supply, facility: str, prescription: str) -> str:
        return self.add(
            {
                "resourceType": "MedicationDispense",
                "id": self.new_id("d"),
                "status": "completed",
                "medicationCodeableConcept": _concept(supply.code, self._item(supply.code).name),
                "subject": _ref("Patient", supply.person),
                "context": _ref("Encounter", supply.encounter),
                "authorizingPrescription": [_ref("MedicationRequest", prescription)],
                "performer": [{"actor": _ref("Organization", facility)}],
                "quantity": {"value": supply.quantity, "unit": "unit"},
                "daysSupply": _days(supply.days),
                "whenHandedOver": supply.when.isoformat(),
            }
        )

    def claim(
        self,
        person: str,
        facility: str,
        created: datetime,
        lines: list[Line],
        diagnosis: str,
        *,
        inpatient: bool = False,
    ) -> str:
        """A settled Claim and the fund's ClaimResponse; returns the Claim's id."""
        claim_id = self.new_id("c")
        items = []
        for sequence, line in enumerate(lines, start=1):
            item = self._item(line.code)
            entry: dict[str, Any] = {
                "sequence": sequence,
                "productOrService": _concept(line.code, item.name),
                "servicedDate": line.day.isoformat(),
                "quantity": {"value": line.quantity},
                "unitPrice": money(item.unit_price_fen),
                "net": money(item.unit_price_fen * line.quantity),
            }
            if line.encounter:
                entry["encounter"] = [_ref("Encounter", line.encounter)]
            items.append(entry)
        kind = "institutional" if inpatient else "professional"
        claim_type = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                  "code": kind}]}  # fmt: skip
        total = sum(self._item(x.code).unit_price_fen * x.quantity for x in lines)
        self.add(
            {
                "resourceType": "Claim",
                "id": claim_id,
                "identifier": [{"system": f"{CLAIM_ID_SYSTEM}/{facility}", "value": claim_id}],
                "status": "active",
                "type": claim_type,
                "use": "claim",
                "patient": _ref("Patient", person),
                "created": created.isoformat(),
                "provider": _ref("Organization", facility),
                "priority": {"coding": [{"code": "normal"}]},
                "insurance": [{"sequence": 1, "focal": True, "coverage": {
                    "identifier": {"system": INSURED_SYSTEM, "value": person}}}],
                "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {
                    "coding": [{"system": ICD10, "code": diagnosis}]}}],
                "item": items,
                "total": money(total),
            }
        )  # fmt: skip
        self._response(claim_id, person, created, claim_type, lines)
        return claim_id

    def _response(
        self, claim_id: str, person: str, created: datetime, kind: Any, lines: list[Line]
    ) -> None:
        answers, fund_total, submitted = [], 0, 0
        for sequence, line in enumerate(lines, start=1):
            amount = self._item(line.code).unit_price_fen * line.quantity
            fund = self.fund_share(line.code, amount, paid=line.paid)
            submitted, fund_total = submitted + amount, fund_total + fund
            answers.append({"itemSequence": sequence, "adjudication": [
                {"category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                 "amount": money(amount)},
                {"category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                 "amount": money(fund)},
            ]})  # fmt: skip
        self.add(
            {
                "resourceType": "ClaimResponse",
                "id": f"{claim_id}-r",
                "status": "active",
                "type": kind,
                "use": "claim",
                "patient": _ref("Patient", person),
                "created": created.isoformat(),
                "insurer": {"display": "Regional medical insurance"},
                "request": _ref("Claim", claim_id),
                "outcome": "complete",
                "item": answers,
                "total": [
                    {"category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]},
                     "amount": money(submitted)},
                    {"category": {"coding": [{"system": ADJUDICATION, "code": "benefit"}]},
                     "amount": money(fund_total)},
                ],
            }
        )  # fmt: skip

    def fund_share(self, code: str, amount_fen: int, *, paid: bool = False) -> int:
        """甲 at the fund's ratio, 乙 after its self-paid share, 丙 nothing unless ``paid``."""
        item = self._item(code)
        if item.item_class is ItemClass.C:
            return amount_fen * FUND_RATIO_BP // FULL if paid else 0
        if item.item_class is ItemClass.B:
            amount_fen = amount_fen * (FULL - self.policy.class_b_self_paid_bp) // FULL
        return amount_fen * FUND_RATIO_BP // FULL

    def is_drug(self, code: str) -> bool:
        kind = self._item(code).kind
        return kind in (ItemKind.WESTERN_DRUG, ItemKind.PATENT_CHINESE_MEDICINE)

    def _item(self, code: str) -> CatalogueItem:
        if not self._items:
            self._items.update((i.code, i) for i in self.policy.catalogue)
        item = self._items.get(code)
        if item is None:
            raise ValueError(f"catalogue code {code} is not in policy {self.policy.version}")
        return item
