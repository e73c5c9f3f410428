"""The access grant of a referral, as the consent decision sees it: who, what, until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent.pdp import AccessRequest, ConsentRule, decide_access
from consent.policy import RegionalPolicy
from consent.rules import consent_rules
from hub.auth.purpose import ACT_REASON_SYSTEM
from referral.access.grants import (
    GrantKind,
    access_grant,
    ends_access,
    grant_id,
    request_data,
    starts_access,
    validity_end,
    with_actor,
    with_data,
    withdrawn,
)

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
END = "2026-03-31T08:00:00+00:00"
TASK = {"id": "t1", "for": {"reference": "Patient/p1"}, "owner": {"reference": "Organization/H001"}}
OPT_OUT = {
    "resourceType": "Consent",
    "id": "opt-out",
    "status": "active",
    "patient": {"reference": "Patient/p1"},
    "provision": {"type": "deny", "purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}]},
}


def _rules(*consents: dict[str, Any]) -> list[ConsentRule]:
    return [rule for consent in consents for rule in consent_rules(consent)]


def _permits(
    rules: list[ConsentRule],
    *,
    facility: str = "H001",
    moment: datetime = START + timedelta(days=1),
    labels: frozenset[str] = frozenset(),
    reference: str = "Observation/o1",
    policy: RegionalPolicy | None = None,
) -> bool:
    request = AccessRequest(
        actor_facility=facility,
        actor_role="practitioner",
        patient_id="p1",
        resource_type=reference.partition("/")[0],
        moment=moment,
        purpose_of_use="TREAT",
        origin_facility="TC001",
        resource_ref=reference,
        labels=labels,
    )
    return decide_access(request, rules, policy or RegionalPolicy()).permitted


def test_the_grant_lets_the_owner_through_an_opt_out_for_its_period_only() -> None:
    grant = access_grant(TASK, "Organization/H001", START, END)
    rules = _rules(OPT_OUT, grant)
    assert not _permits(_rules(OPT_OUT))
    assert _permits(rules)
    assert not _permits(rules, moment=START - timedelta(seconds=1))
    # the end is a dateTime to the second: the grant holds through that second
    assert _permits(rules, moment=datetime.fromisoformat(END))
    assert not _permits(rules, moment=datetime.fromisoformat(END) + timedelta(seconds=1))
    assert not _permits(rules, facility="H002")
    assert not _permits(_rules(OPT_OUT, withdrawn(grant)))


def test_a_policy_that_withholds_by_default_is_opened_by_the_grant() -> None:
    closed = RegionalPolicy(opt_out_purposes=frozenset())
    grant = access_grant(TASK, "Organization/H001", START, END)
    assert not _permits([], policy=closed)
    assert _permits(_rules(grant), policy=closed)


def test_sensitive_classes_stay_withheld_and_a_named_deny_still_wins() -> None:
    grant = access_grant(TASK, "Organization/H001", START, END)
    assert not _permits(_rules(grant), labels=frozenset({"HIV"}))
    named_deny = {
        **OPT_OUT,
        "id": "not-h001",
        "provision": {
            "type": "deny",
            "purpose": [{"system": ACT_REASON_SYSTEM, "code": "TREAT"}],
            "actor": [{"reference": {"reference": "Organization/H001"}}],
        },
    }
    assert not _permits(_rules(named_deny, grant))


def test_a_grant_of_listed_data_reaches_only_that_data() -> None:
    task = {**TASK, "id": "t2"}
    request = {"id": "sr1"}
    grant = access_grant(task, "Organization/H001", START, END, data=request_data(task, request))
    rules = _rules(OPT_OUT, grant)
    assert _permits(rules, reference="ServiceRequest/sr1")
    assert _permits(rules, reference="Task/t2")
    assert _permits(rules, reference="Patient/p1")
    assert not _permits(rules, reference="Observation/o1")
    more = with_data(grant, ["Observation/o1"])
    assert _permits(_rules(OPT_OUT, more), reference="Observation/o1")
    redirected = with_actor(grant, "Organization/H002")
    assert _permits(_rules(OPT_OUT, redirected), facility="H002", reference="Task/t2")
    assert _permits(_rules(OPT_OUT, redirected), facility="H001", reference="Task/t2")


def test_an_empty_list_is_never_read_as_everything() -> None:
    with pytest.raises(ValueError, match="at least one"):
        access_grant(TASK, "Organization/H001", START, END, data=[])
    with pytest.raises(ValueError, match="listed data"):
        with_data(access_grant(TASK, "Organization/H001", START, END), ["Observation/o1"])


def test_the_grant_names_its_task() -> None:
    grant = access_grant(TASK, "Organization/H001", START, None, kind=GrantKind.REPLY, data=["X/1"])
    assert grant["id"] == grant_id(GrantKind.REPLY, "t1") == "consult-reply-t1"
    assert grant["sourceReference"] == {"reference": "Task/t1"}
    assert "end" not in grant["provision"]["period"]


def test_validity_comes_from_the_request_then_the_task_then_the_default() -> None:
    period = {"end": "2026-04-01"}
    assert validity_end({"occurrencePeriod": period}, {}, START, timedelta(days=1)) == "2026-04-01"
    restriction = {"restriction": {"period": {"end": "2026-05-01"}}}
    assert validity_end({}, restriction, START, timedelta(days=1)) == "2026-05-01"
    assert validity_end({}, {}, START, timedelta(days=2)) == "2026-03-03T08:00:00+00:00"


@pytest.mark.parametrize(
    ("source", "target", "starts", "ends"),
    [
        ("requested", "accepted", True, False),
        ("received", "accepted", True, False),
        ("accepted", "in-progress", False, False),
        ("in-progress", "completed", False, True),
        ("accepted", "cancelled", False, True),
        ("accepted", "rejected", False, True),
        ("requested", "received", False, False),
        ("rejected", "requested", False, False),
    ],
)
def test_which_moves_start_and_end_the_access(
    source: str, target: str, starts: bool, ends: bool
) -> None:
    before, after = {"status": source}, {"status": target}
    assert starts_access(before, after) is starts
    assert ends_access(before, after) is ends
