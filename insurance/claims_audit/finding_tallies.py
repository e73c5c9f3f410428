"""The findings' figures summed by the database (the store's ``tally``, as the caller, so its
scopes, consent and audit apply) instead of from every finding loaded: groups of findings as
:class:`FindingFacts` with a ``count``, which the report's pure figures add up as they add up
single findings.

A finding counts as :func:`finding_facts` counts it: a claims-audit finding has a service day
(``service-day``) and a status the review gives; its rule, facility and amounts are the
indexed ``code``, ``facility``, ``amount-at-risk`` and ``recover-amount``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from hub.fhir.search.dates import REGION_TZ
from hub.fhir.store import FhirStore
from insurance.claims_audit.report_figures import (
    STATE_OF_STATUS,
    UNKNOWN,
    FindingFacts,
    ReviewState,
)

FINDING = "DetectedIssue"
BY = ("code", "facility", "status")
SUMS = ("amount-at-risk", "recover-amount")
WITH_SERVICE_DAY = ("service-day:missing", "false")


def _text(key: object) -> str:
    return UNKNOWN if key is None else str(key)


def finding_groups(
    store: FhirStore, query: Sequence[tuple[str, str]], day: date
) -> list[FindingFacts]:
    """The findings of ``query`` per rule, facility and state (their service day set to
    ``day``: the caller's query chooses the days)."""
    groups = []
    for group in store.tally(FINDING, [*query, WITH_SERVICE_DAY], BY, SUMS):
        rule, facility, status = group.keys
        state = STATE_OF_STATUS.get(str(status))
        if state is None:
            continue  # entered-in-error: not a finding of the report (as finding_facts)
        at_risk, recover = group.hundredths
        groups.append(FindingFacts(
            id="", rule=_text(rule), facility=_text(facility), day=day, at_risk_fen=at_risk,
            state=state, recover_fen=recover if state is ReviewState.CONFIRMED else 0,
            count=group.count,
        ))  # fmt: skip
    return groups


def findings_per_day(store: FhirStore, query: Sequence[tuple[str, str]]) -> list[FindingFacts]:
    """The findings of ``query`` per service day (count and amount at risk; rule, facility and
    state left unknown): what the trend by month needs."""
    days = []
    for group in store.tally(FINDING, [*query, ("status", ",".join(STATE_OF_STATUS))],
                             ("service-day",), ("amount-at-risk",)):  # fmt: skip
        [start] = group.keys
        if not isinstance(start, datetime):
            continue  # no service day: not a claims-audit finding
        day = start.astimezone(REGION_TZ).date()
        days.append(FindingFacts(id="", rule=UNKNOWN, facility=UNKNOWN, day=day,
                                 at_risk_fen=group.hundredths[0], state=ReviewState.OPEN,
                                 count=group.count))  # fmt: skip
    return days
