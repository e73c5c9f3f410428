"""What a confirmed finding leads to: the recovery of an amount, or the reversal already made.
Pure.

R4 has no "recovery" resource; a recovery is a payment adjustment, so it is a
``PaymentReconciliation`` written by the hub (id ``rcv-`` + the finding's key, so a finding is
recovered once): ``requestor`` the facility it is recovered from (which may read it, as its
reconciliations), ``paymentAmount`` the amount (CNY, positive: what the facility owes back),
one ``detail`` of type ``adjustment`` with the negative amount against the Claim (``request``),
``identifier`` (system :data:`RECOVERY_SYSTEM`) the finding's id. The total recovered from a
facility is the sum of ``paymentAmount`` over
``PaymentReconciliation?requestor=Organization/CODE&identifier=RECOVERY_SYSTEM|``.

DetectedIssue.mitigation says what was done (R4: action, date, author); its
``claims-audit-mitigation-record`` extension points at the record: the recovery, or, for a
claim whose settlement was reversed (its Claim cancelled by ``Claim/$cancel``), the Claim's
cancelled version, which is the reversal itself, and nothing is recovered twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from insurance.claims_audit.reconcile_fhir import PAYMENT_TYPE, TYPE
from insurance.money import money, to_fen

HUB = "https://hub.example.cn/fhir"
RECOVERY_SYSTEM = f"{HUB}/sid/claims-audit-recovery"
ACTION_SYSTEM = f"{HUB}/CodeSystem/claims-audit-action"
EXT_RECORD = f"{HUB}/StructureDefinition/claims-audit-mitigation-record"
EXT_FINDING = f"{HUB}/StructureDefinition/claims-audit-finding"
RECOVERY, REVERSAL = "recovery", "reversal"


def recovery_id(finding_id: str) -> str:
    return "rcv-" + finding_id.removeprefix("ca-")


def recovery_resource(
    finding_id: str, facility: str, claim_id: str, amount_fen: int, now: datetime
) -> dict[str, Any]:
    return {
        "resourceType": TYPE,
        "id": recovery_id(finding_id),
        "identifier": [{"system": RECOVERY_SYSTEM, "value": finding_id}],
        "status": "active",
        "created": now.isoformat(),
        "requestor": {"reference": f"Organization/{facility}"},
        "outcome": "complete",
        "disposition": "recovery of a confirmed claims-audit finding",
        "paymentDate": now.date().isoformat(),
        "paymentAmount": money(amount_fen),
        "extension": [
            {"url": EXT_FINDING, "valueReference": {"reference": f"DetectedIssue/{finding_id}"}}
        ],
        "detail": [
            {
                "identifier": {"system": RECOVERY_SYSTEM, "value": finding_id},
                "type": {"coding": [{"system": PAYMENT_TYPE, "code": "adjustment"}]},
                "request": {"reference": f"Claim/{claim_id}"},
                "amount": money(-amount_fen),
            }
        ],
    }


def mitigation(action: str, record: str, reviewer: str, now: datetime) -> dict[str, Any]:
    """A DetectedIssue.mitigation entry pointing at its record (``Type/id[/_history/v]``)."""
    return {
        "action": {"coding": [{"system": ACTION_SYSTEM, "code": action}]},
        "date": now.isoformat(),
        "author": {"display": reviewer},
        "extension": [{"url": EXT_RECORD, "valueReference": {"reference": record}}],
    }


def recovered_fen(recoveries: list[dict[str, Any]]) -> int:
    """The total of recovery records (their ``paymentAmount``), in fen."""
    return sum(to_fen((r.get("paymentAmount") or {}).get("value", 0)) for r in recoveries)
