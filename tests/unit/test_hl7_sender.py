"""Who may send for a facility (adapters/hl7v2/sender.py): the decision and the listener policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.hl7v2.gateway import facilities_by_sending_name
from adapters.hl7v2.intake import Intake, Sender
from adapters.hl7v2.sender import (
    UNAUTHENTICATED_WARNING,
    Basis,
    SenderConfigError,
    SenderDecision,
    SenderPolicy,
    authenticate_sender,
    sender_policy,
)
from hub.region.facilities import Facility, load_facilities
from hub.settings import Environment, Settings
from tests import hl7v2_cases as cases

FACILITIES = facilities_by_sending_name(load_facilities())
H001, H002 = FACILITIES["H001"], FACILITIES["H002"]


def settings(environment: Environment = Environment.DEVELOPMENT, **values: Any) -> Settings:
    """Settings as the listener reads them (``environment`` applied after validation: the
    production checks of keys and database are not what these tests are about)."""
    return Settings(**values).model_copy(update={"environment": environment})


def allow_list(sources: dict[str, list[str]]) -> SenderPolicy:
    return sender_policy(settings(mllp_plaintext_sources=json.dumps(sources)), FACILITIES)


# --- the decision ---------------------------------------------------------------------------


def decide(
    policy: SenderPolicy,
    host: str = "10.1.2.3",
    names: tuple[str, ...] = (),
    facility: Facility = H001,
) -> SenderDecision:
    return authenticate_sender(
        peer_host=host, certificate_names=names, facility=facility, policy=policy
    )


def test_with_nothing_configured_any_client_may_claim_any_facility_outside_production() -> None:
    decision = decide(SenderPolicy(), host="203.0.113.9", facility=H002)
    assert decision.accepted and decision.basis is Basis.NONE


def test_an_unauthenticating_policy_refuses_when_unauthenticated_senders_are_not_allowed() -> None:
    decision = decide(SenderPolicy(allow_unauthenticated=False))
    assert not decision.accepted and decision.basis is Basis.NONE


def test_a_source_address_may_send_only_for_the_facilities_listed_for_it() -> None:
    policy = allow_list({"H001": ["10.1.2.0/24", "192.0.2.7"], "H002": ["10.9.9.9"]})
    assert decide(policy, "10.1.2.3", facility=H001).accepted
    assert decide(policy, "192.0.2.7", facility=H001).accepted
    assert decide(policy, "10.9.9.9", facility=H002).accepted
    forged = decide(policy, "10.1.2.3", facility=H002)
    assert not forged.accepted and forged.basis is Basis.SOURCE_ADDRESS
    assert "10.1.2.3" in forged.reason and "MSH-4" in forged.reason
    assert not decide(policy, "10.1.3.1", facility=H001).accepted  # outside the /24
    h003 = FACILITIES["H003"]
    assert not decide(policy, "10.1.2.3", facility=h003).accepted  # listed for nobody


def test_addresses_compare_as_addresses_not_text() -> None:
    policy = allow_list({"H001": ["10.1.2.3", "2001:db8::/32"]})
    assert decide(policy, "::ffff:10.1.2.3").accepted  # IPv4 client of a dual-stack listener
    assert decide(policy, "2001:db8::1").accepted
    assert not decide(policy, "10.1.2.30").accepted
    assert not decide(policy, "?").accepted  # no address known
    assert not decide(policy, "").accepted


def test_a_client_certificate_must_name_the_facility_in_msh4() -> None:
    policy = SenderPolicy(certificates_required=True, allow_unauthenticated=False)
    assert decide(policy, names=("H001",)).accepted
    assert decide(policy, names=("YC_H001", "宜昌市中心人民医院")).basis is Basis.CERTIFICATE
    forged = decide(policy, names=("YC_H001", "宜昌市中心人民医院"), facility=H002)
    assert not forged.accepted and forged.basis is Basis.CERTIFICATE
    nameless = decide(policy, names=())  # verified, but neither CN nor O
    assert not nameless.accepted and "names no facility" in nameless.reason


def test_a_certificate_outweighs_the_source_address() -> None:
    policy = allow_list({"H002": ["10.1.2.3"]})
    assert decide(policy, "10.1.2.3", names=("YC_H001",), facility=H001).accepted
    assert not decide(policy, "10.1.2.3", names=("YC_H001",), facility=H002).accepted


# --- the policy a listener starts with ------------------------------------------------------


def test_development_without_authentication_starts_with_a_warning() -> None:
    policy = sender_policy(settings(), FACILITIES)
    assert not policy.authenticates and policy.allow_unauthenticated
    assert policy.describe() == UNAUTHENTICATED_WARNING
    assert "WITHOUT sender authentication" in UNAUTHENTICATED_WARNING
    assert "HUB_MLLP_PLAINTEXT_SOURCES" in UNAUTHENTICATED_WARNING


def test_production_refuses_to_start_without_sender_authentication(tmp_path: Path) -> None:
    with pytest.raises(SenderConfigError, match="must authenticate senders"):
        sender_policy(settings(environment=Environment.PRODUCTION), FACILITIES)
    tls_only = settings(  # TLS, but anonymous clients: encrypted, not identified
        environment=Environment.PRODUCTION,
        mllp_tls_cert=tmp_path / "server.pem",
        mllp_tls_key=tmp_path / "server.key",
    )
    with pytest.raises(SenderConfigError, match="must authenticate senders"):
        sender_policy(tls_only, FACILITIES)


def test_production_starts_with_client_certificates_or_an_allow_list(tmp_path: Path) -> None:
    mutual_tls = settings(
        environment=Environment.PRODUCTION,
        mllp_tls_cert=tmp_path / "server.pem",
        mllp_tls_client_ca=tmp_path / "ca.pem",
    )
    policy = sender_policy(mutual_tls, FACILITIES)
    assert policy.certificates_required and not policy.allow_unauthenticated
    assert "client certificate" in policy.describe()
    both = mutual_tls.model_copy(update={"mllp_plaintext_sources": {"H001": ()}})
    assert "HUB_MLLP_PLAINTEXT_SOURCES is not used" in sender_policy(both, FACILITIES).describe()
    plaintext = settings(
        environment=Environment.PRODUCTION,
        mllp_plaintext_sources='{"YC_H001": ["10.1.2.0/24"], "H001": "10.7.0.1"}',
    )
    policy = sender_policy(plaintext, FACILITIES)
    assert set(policy.plaintext_sources) == {"H001"}  # HL7 names resolved to facility codes
    assert len(policy.plaintext_sources["H001"]) == 2
    assert not decide(policy, "203.0.113.9").accepted


def test_configuration_mistakes_are_refused_in_any_environment(tmp_path: Path) -> None:
    with pytest.raises(SenderConfigError, match="'NOWHERE', not a registered facility"):
        sender_policy(settings(mllp_plaintext_sources='{"NOWHERE": ["10.0.0.1"]}'), FACILITIES)
    with pytest.raises(SenderConfigError, match="HUB_MLLP_TLS_CLIENT_CA is set without"):
        sender_policy(settings(mllp_tls_client_ca=tmp_path / "ca.pem"), FACILITIES)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json", "must be a JSON object"),
        ('["10.0.0.1"]', "must be a JSON object"),
        ('{"H001": []}', "needs a list"),
        ('{"H001": ["10.1.2.5/24"]}', "host bits set"),
        ('{"H001": ["10.1.2"]}', "does not appear to be"),
    ],
)
def test_the_allow_list_setting_is_checked_when_read(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings(mllp_plaintext_sources=value)


# --- in intake, before the message is stored and acknowledged -------------------------------


def test_intake_refuses_a_forged_msh4_with_ar_103_and_says_why() -> None:
    intake = Intake(FACILITIES, "UNICODE UTF-8", sender_policy=allow_list({"H001": ["10.1.2.3"]}))
    raw = cases.with_segment_field(cases.adt_a04(), "MSH", 4, "YC_H002")
    received = intake.check(raw, Sender("10.1.2.3:5000", (), "10.1.2.3"))
    assert not received.accepted and received.facility_code is None
    assert received.ack_code == "AR" and received.error and received.error.startswith("103 MSH-4")
    assert received.sender_refusal and "claims facility H002" in received.sender_refusal
    own = cases.with_segment_field(cases.adt_a04(), "MSH", 4, "YC_H001")
    accepted = intake.check(own, Sender("10.1.2.3:5000", (), "10.1.2.3"))
    assert accepted.accepted and accepted.sender_refusal is None
