"""The manual-review sample (抽查): a share of the settled claims no rule flagged, drawn for an
auditor's review. Pure.

The draw is per claim, never "n of the day's": a keyed hash of the claim id and its day, read
as a number in [0, 1), below the facility's share. So the incremental audit, which sees one
claim at a time, and the day's run draw the same claims; a re-run draws them again (and the
finding's content-derived id records each once); and, the key being the hub's secret, a
facility cannot tell which of its claims will be drawn.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ManualReviewSampleParams
from insurance.claims_audit.view import Claim

_SCALE = Decimal(2**64)
KEY_LABEL = b"hub claims-audit manual-review sample"


def sample_key(secret: bytes) -> bytes:
    """The draw's own key, derived from a hub secret (so it is never the secret itself)."""
    return hmac.new(secret, KEY_LABEL, hashlib.sha256).digest()


def draw_point(key: bytes, claim_id: str, day: date) -> Decimal:
    """The claim's point in [0, 1): the first 64 bits of HMAC-SHA256(claim id, day)."""
    digest = hmac.new(key, f"{claim_id}\n{day.isoformat()}".encode(), hashlib.sha256).digest()
    return Decimal(int.from_bytes(digest[:8], "big")) / _SCALE


def drawn(key: bytes, claim_id: str, day: date, share: Decimal) -> bool:
    return share > 0 and draw_point(key, claim_id, day) < share


def sample_findings(
    claims: Iterable[Claim],
    flagged: set[str],
    params: ManualReviewSampleParams,
    key: bytes,
) -> list[Finding]:
    """A low-severity finding for each claim not in ``flagged`` that the draw picks."""
    found = []
    for claim in claims:
        share = params.share_of(claim.facility)
        if claim.id in flagged or not drawn(key, claim.id, claim.created, share):
            continue
        found.append(
            Finding(
                rule=RuleCode.MANUAL_REVIEW_SAMPLE,
                severity=Severity.LOW,
                facility=claim.facility,
                person=claim.person,
                day=claim.created,
                amount_fen=0,  # nothing is suspected: the amount at risk is the review's to say
                detail=f"drawn for manual review: no rule flagged it (share {share} at "
                f"{claim.facility})",
                basis=f"sample {claim.created.isoformat()}",
                claims=(claim.id,),
                encounters=claim.encounters,
            )
        )
    return found
