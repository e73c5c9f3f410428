"""What the patient is told when their referral moves: a ``Communication`` addressed to them.

One per new referral Task and per change of its status, written by the hub (the loop's
identity) so it is audited, reaches subscribers, and is readable with the patient's own token
(the recipient places it in their compartment). The text says what happened, never why a
facility refused (the reason stays with the doctors). Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from referral.rules import reference_of

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/communication-category"
# What each status means to the patient (Chinese first: the region's patients read it).
TEXTS: dict[str, str] = {
    "requested": "您的转诊申请已提交 / Your referral has been sent.",
    "received": "接收医院已收到您的转诊 / The receiving hospital has received your referral.",
    "accepted": "接收医院已同意接诊 / The receiving hospital has accepted your referral.",
    "rejected": "接收医院未能接诊，请联系转出医生 / The referral was declined; "
    "please contact your doctor.",
    "cancelled": "您的转诊已取消 / Your referral has been cancelled.",
    "in-progress": "已确认您到院就诊 / Your arrival at the hospital has been recorded.",
    "completed": "转诊已完成，出院小结已回传 / Your referral is complete; "
    "the discharge summary has been returned to your doctor.",
}


def patient_notice(before: dict[str, Any] | None, task: dict[str, Any]) -> dict[str, Any] | None:
    """The Communication for the patient after ``task`` was written, or None when its status
    did not change (or it names no patient)."""
    status = str(task.get("status") or "")
    patient = reference_of(task.get("for"))
    if not patient.startswith("Patient/") or status not in TEXTS:
        return None
    if before is not None and before.get("status") == status:
        return None
    return {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "notification"}]}],
        "subject": {"reference": patient},
        "recipient": [{"reference": patient}],
        "about": [{"reference": f"Task/{task['id']}"}],
        "sent": datetime.now(UTC).isoformat(timespec="seconds"),
        "payload": [{"contentString": TEXTS[status]}],
    }
