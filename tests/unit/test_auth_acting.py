"""The practitioner acting behind a token (hub.auth.acting): who may and who must name one, the
claim's round trip through the hub's tokens, and the agent the AuditEvent gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.audit.models import AuditRecord
from hub.audit.render import to_audit_event
from hub.auth.access_tokens import TokenIssuer
from hub.auth.acting import PractitionerError, check_acting, parse_practitioner
from hub.auth.purpose import PurposeOfUse
from hub.auth.roles import Role
from hub.auth.signing_keys import generate_signing_key


@pytest.mark.parametrize("value", ["Patient/1", "Practitioner/", "wang", "Practitioner/a/b"])
def test_a_malformed_practitioner_is_refused(value: str) -> None:
    with pytest.raises(PractitionerError, match="Practitioner/<id>"):
        parse_practitioner(value)


def test_emergency_needs_a_practitioner_for_facility_roles_only() -> None:
    for role in (Role.facility_system, Role.practitioner):
        with pytest.raises(PractitionerError, match="requires the practitioner"):
            check_acting(role, PurposeOfUse.ETREAT, None)
        with pytest.raises(PractitionerError, match="requires the practitioner"):
            check_acting(role, PurposeOfUse.ETREAT, "  ")
        assert check_acting(role, PurposeOfUse.ETREAT, " Practitioner/d1 ") == "Practitioner/d1"
        assert check_acting(role, PurposeOfUse.TREAT, None) is None
    for role in (Role.patient, Role.auditor, Role.operator):
        with pytest.raises(PractitionerError, match="only accepted"):
            check_acting(role, None, "Practitioner/d1")


def test_the_claim_round_trips_through_a_token() -> None:
    issuer = TokenIssuer(generate_signing_key(), issuer="https://hub", audience="https://hub/fhir")
    token, _ = issuer.issue(
        client_id="his", facility="H001", role=Role.facility_system, scope="system/*.rs",
        purpose_of_use="ETREAT", purpose_reason="trauma", practitioner="Practitioner/d1",
    )  # fmt: skip
    assert issuer.verify(token).practitioner == "Practitioner/d1"
    plain, _ = issuer.issue(client_id="his", facility="H001", role=Role.facility_system,
                            scope="system/*.rs")  # fmt: skip
    assert issuer.verify(plain).practitioner is None
    with pytest.raises(PractitionerError):
        issuer.issue(client_id="his", facility="H001", role=Role.facility_system,
                     scope="system/*.rs", practitioner="Organization/x")  # fmt: skip


def _record(practitioner: str | None) -> AuditRecord:
    return AuditRecord(
        seq=7, recorded=datetime(2030, 1, 2, tzinfo=UTC), client_id="his", facility="H001",
        role="facility-system", purpose_of_use="ETREAT", action="R", interaction="read",
        resource_type="Patient", resources='["Patient/p1"]', patients='["p1"]', outcome="0",
        break_glass=True, break_glass_reason="trauma", practitioner=practitioner, hash="h",
    )  # fmt: skip


def test_the_audit_event_names_the_practitioner_as_requestor() -> None:
    client, person = to_audit_event(_record("Practitioner/d1"), "https://hub")["agent"]
    assert (client["who"]["identifier"]["value"], client["requestor"]) == ("his", False)
    assert (person["who"], person["requestor"]) == ({"reference": "Practitioner/d1"}, True)
    assert person["purposeOfUse"][0]["text"] == "trauma"
    (alone,) = to_audit_event(_record(None), "https://hub")["agent"]
    assert alone["requestor"] is True
