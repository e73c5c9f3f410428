"""Claim, Coverage and their answers in FHIR R4 shape. Pure: no I/O.

Parses what a cashier's HIS sends (a Claim, a CoverageEligibilityRequest) into the core's
terms, and renders the core's split as ClaimResponse / ExplanationOfBenefit /
CoverageEligibilityResponse. Adjudication categories are those of
http://terminology.hl7.org/CodeSystem/adjudication (submitted, eligible, deductible, benefit,
copay); the hub's own ones (account, cash, not-covered, self-paid) carry the hub's system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from insurance.adjudication import Adjudication, ClaimLine, Remaining, Split
from insurance.money import money, to_fen
from insurance.policy import FULL, Scheme

HUB = "https://hub.example.cn/fhir"
CATALOGUE_SYSTEM = f"{HUB}/CodeSystem/insurance-catalogue"
INSUTYPE_SYSTEM = f"{HUB}/CodeSystem/insutype"  # national 险种类型
RULE_SYSTEM = f"{HUB}/CodeSystem/insurance-rule"
HUB_ADJUDICATION = f"{HUB}/CodeSystem/insurance-adjudication"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
EXT_REGION = f"{HUB}/StructureDefinition/insured-region"
EXT_BALANCE = f"{HUB}/StructureDefinition/personal-account-balance"
INSURED_PERSON_SYSTEM = f"{HUB}/sid/insured-person"  # 人员编号 (psn_no)
EXT_RULE = f"{HUB}/StructureDefinition/insurance-rule"
EXT_FUND_RATIO = f"{HUB}/StructureDefinition/insurance-fund-ratio"  # the ratio applied
INSUTYPE: dict[Scheme, str] = {Scheme.UEBMI: "310", Scheme.URRBMI: "390"}
SCHEME_OF = {code: scheme for scheme, code in INSUTYPE.items()}


class ClaimInvalid(ValueError):
    """The request is not a settleable Claim; the message names the element."""


@dataclass(frozen=True)
class CoverageTerms:
    coverage_id: str
    beneficiary: str  # Patient/id
    scheme: Scheme
    region: str
    active: bool
    account_balance: int  # fen


def reference(value: Any) -> str:
    found = value.get("reference") if isinstance(value, dict) else None
    return found if isinstance(found, str) else ""


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any]:
    return next((e for e in resource.get("extension") or [] if e.get("url") == url), {})


def coverage_terms(coverage: dict[str, Any]) -> CoverageTerms:
    codes = [c.get("code") for c in (coverage.get("type") or {}).get("coding") or []]
    scheme = next((SCHEME_OF[c] for c in codes if c in SCHEME_OF), None)
    if scheme is None:
        raise ClaimInvalid(f"Coverage/{coverage.get('id')} names no scheme (insutype 310/390)")
    balance = (_extension(coverage, EXT_BALANCE).get("valueMoney") or {}).get("value", 0)
    return CoverageTerms(
        coverage_id=str(coverage.get("id")),
        beneficiary=reference(coverage.get("beneficiary")),
        scheme=scheme,
        region=str(_extension(coverage, EXT_REGION).get("valueString") or ""),
        active=coverage.get("status") == "active",
        account_balance=to_fen(balance),
    )


def coverage_resource(
    patient_id: str, scheme: Scheme, region: str, balance_fen: int, insured_id: str
) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "status": "active",
        "identifier": [{"system": INSURED_PERSON_SYSTEM, "value": insured_id}],
        "type": {"coding": [{"system": INSUTYPE_SYSTEM, "code": INSUTYPE[scheme]}]},
        "beneficiary": {"reference": f"Patient/{patient_id}"},
        "payor": [{"display": f"Medical insurance {region}"}],
        "extension": [
            {"url": EXT_REGION, "valueString": region},
            {"url": EXT_BALANCE, "valueMoney": money(balance_fen)},
        ],
    }


def claim_key(claim: dict[str, Any]) -> str:
    """``system|value`` of the Claim's identifier: the settlement's idempotency key."""
    for identifier in claim.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            return f"{identifier.get('system', '')}|{identifier['value']}"[:255]
    raise ClaimInvalid("Claim.identifier is required: it keys the settlement (retries)")


def content_hash(claim: dict[str, Any]) -> str:
    """The request's content, to tell a retry from a replay with different content."""
    body = {k: v for k, v in claim.items() if k not in ("id", "meta", "text")}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def claim_lines(claim: dict[str, Any]) -> list[ClaimLine]:
    items = claim.get("item") or []
    if not items:
        raise ClaimInvalid("Claim.item: a claim lists at least one item")
    lines = []
    for index, item in enumerate(items, start=1):
        codings = (item.get("productOrService") or {}).get("coding") or []
        code = next((c.get("code") for c in codings if c.get("code")), None)
        if not code:
            raise ClaimInvalid(f"Claim.item[{index}].productOrService needs a catalogue code")
        quantity = (item.get("quantity") or {}).get("value", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise ClaimInvalid(f"Claim.item[{index}].quantity must be a whole number")
        try:
            price = to_fen((item.get("unitPrice") or {})["value"])
        except (KeyError, ValueError) as exc:
            raise ClaimInvalid(f"Claim.item[{index}].unitPrice: {exc}") from None
        lines.append(ClaimLine(int(item.get("sequence") or index), str(code), quantity, price))
    return lines


def diagnosis_codes(claim: dict[str, Any]) -> list[str]:
    return [
        str(coding.get("code"))
        for diagnosis in claim.get("diagnosis") or []
        for coding in (diagnosis.get("diagnosisCodeableConcept") or {}).get("coding") or []
        if coding.get("code")
    ]


def _adjudication(split: Split) -> list[dict[str, Any]]:
    standard = ("submitted", "eligible", "deductible", "benefit", "copay")
    own = (
        ("not-covered", split.not_covered),
        ("self-paid", split.self_paid),
        ("account", split.account),
        ("cash", split.cash),
    )
    return [
        {
            "category": {"coding": [{"system": ADJUDICATION, "code": name}]},
            "amount": money(getattr(split, name)),
        }
        for name in standard
    ] + [
        {"category": {"coding": [{"system": HUB_ADJUDICATION, "code": name}]}, "amount": money(v)}
        for name, v in own
    ]


def _totals(total: Split) -> list[dict[str, Any]]:
    return [
        {"category": {"coding": [{"system": ADJUDICATION, "code": name}]}, "amount": money(v)}
        for name, v in (
            ("submitted", total.submitted),
            ("eligible", total.eligible),
            ("deductible", total.deductible),
            ("benefit", total.fund),
            ("copay", total.copay),
        )
    ] + [
        {"category": {"coding": [{"system": HUB_ADJUDICATION, "code": n}]}, "amount": money(v)}
        for n, v in (("account", total.account), ("cash", total.cash))
    ]


def claim_response(
    claim: dict[str, Any], result: Adjudication, *, settled: bool, claim_id: str | None
) -> dict[str, Any]:
    rule = {"system": RULE_SYSTEM, "code": result.rule, "display": result.policy_version}
    body: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": claim.get("type") or {"coding": [{"code": "institutional"}]},
        "use": "claim" if settled else "predetermination",
        "patient": claim.get("patient"),
        "created": claim.get("created"),
        "insurer": {"display": "Regional medical insurance"},
        "outcome": "complete",
        "disposition": f"{'settled' if settled else 'pre-settlement'}: rule {result.rule}",
        "item": [
            {"itemSequence": line.sequence, "adjudication": _adjudication(split)}
            for line, split in result.lines
        ],
        "total": _totals(result.total),
        "payment": {
            "type": {
                "coding": [{"system": f"{HUB}/CodeSystem/payment-type", "code": "fund-settlement"}]
            },
            "amount": money(result.total.fund),
        },
        "processNote": [{"type": "display", "text": f"rule {result.rule} ({result.ratio_bp} bp)"}],
        "extension": [
            {"url": EXT_RULE, "valueCoding": rule},
            {"url": EXT_FUND_RATIO, "valueDecimal": float(Decimal(result.ratio_bp) / FULL)},
            # The personal account's balance once this split is applied.
            {"url": EXT_BALANCE, "valueMoney": money(result.after.account_balance)},
        ],
    }
    if claim_id is not None:
        body["request"] = {"reference": f"Claim/{claim_id}"}
    return body


def explanation_of_benefit(
    claim: dict[str, Any], response: dict[str, Any], claim_id: str
) -> dict[str, Any]:
    return {
        "resourceType": "ExplanationOfBenefit",
        "status": "active",
        "type": response["type"],
        "use": "claim",
        "patient": claim.get("patient"),
        "created": claim.get("created"),
        "insurer": response["insurer"],
        "provider": claim.get("provider"),
        "outcome": "complete",
        "claim": {"reference": f"Claim/{claim_id}"},
        "insurance": [{"focal": True, "coverage": i.get("coverage")} for i in claim["insurance"]],
        "item": [
            {
                "sequence": answer["itemSequence"],
                "productOrService": item.get("productOrService"),
                "adjudication": answer["adjudication"],
            }
            for item, answer in zip(claim.get("item") or [], response["item"], strict=True)
        ],
        "total": response["total"],
        "payment": response["payment"],
        "extension": response["extension"],
    }


def eligibility_response(
    request: dict[str, Any], terms: CoverageTerms, left: Remaining
) -> dict[str, Any]:
    """Remaining quotas as openIMIS answers them: benefit.allowedMoney / usedMoney."""

    def benefit(code: str, allowed: int) -> dict[str, Any]:
        return {
            "type": {"coding": [{"system": HUB_ADJUDICATION, "code": code}]},
            "allowedMoney": money(allowed),
        }

    return {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": ["validation", "benefits"],
        "patient": request.get("patient"),
        "created": request.get("created"),
        "request": {"display": "CoverageEligibilityRequest (not stored)"},
        "insurer": {"display": "Regional medical insurance"},
        "outcome": "complete",
        "insurance": [
            {
                "coverage": {"reference": f"Coverage/{terms.coverage_id}"},
                "inforce": terms.active,
                "item": [
                    {
                        "category": {"text": terms.scheme},
                        "benefit": [
                            benefit("deductible-left", left.deductible),
                            benefit("cap-left", left.cap),
                            benefit("account-balance", left.account_balance),
                        ],
                    }
                ],
            }
        ],
    }
