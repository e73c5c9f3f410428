"""Security issue item 6: MSH-4 is a claim; the hub believes it only from a sender it can identify.

The attack: a plaintext connection sent ADT^A08 with MSH-4 set to another facility and
overwrote that facility's Patient with an AA. Here, over real MLLP sockets against the gateway
as the other HL7 tests start it: a source allow-list (``HUB_MLLP_PLAINTEXT_SOURCES``) and client
certificates each refuse the forged message with AR + ERR, write nothing and record the refusal;
production with neither refuses to start the listener at all (``Hl7Gateway`` and ``hub mllp``).
"""

from __future__ import annotations

import itertools
import json
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.hl7v2.gateway import Hl7Gateway
from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import parse_message
from adapters.hl7v2.processing import facility_actor
from adapters.hl7v2.sender import SenderConfigError
from adapters.hl7v2.tls import client_context
from hub.audit.models import AuditRecord
from hub.cli.app import app
from hub.db import session_scope
from hub.fhir.conditional import matching
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_patient_system
from hub.security.fields import get_cipher
from hub.settings import Environment, Settings, get_settings
from tests.integration.hl7_harness import inbox_rows, msa, running_gateway, wait_processed
from tests.pki import LOOPBACK_SAN, issue, name, new_key, write_pem

A, A_HL7 = "H001", "YC_H001"  # the facility that really sends
B, B_HL7 = "H002", "YC_H002"  # the facility it pretends to be
_numbers = itertools.count(1)


def adt(facility_hl7: str, event: str, mrn: str, family: str, birth: str) -> tuple[bytes, str]:
    """(ADT message, control id) with MSH-4 = ``facility_hl7``."""
    control_id = f"SEC{time.time_ns()}{next(_numbers)}"
    text = (
        f"MSH|^~\\&|HIS|{facility_hl7}|HUB|YICHANG|20261126101500||ADT^{event}^ADT_A01|"
        f"{control_id}|P|2.5|||||CHN|UNICODE UTF-8\r"
        f"EVN|{event}|20261126101500\r"
        f"PID|1||{mrn}^^^{facility_hl7}^MR||{family}^小明||{birth}|M\r"
        f"PV1|1|O|内科门诊^^^{facility_hl7}\r"
    )
    return text.encode(), control_id


def new_mrn() -> str:
    return f"SEC{time.time_ns() % 10**9}{next(_numbers)}"


def patient(facility: str, mrn: str) -> dict[str, Any] | None:
    with session_scope() as session:
        store = FhirStore(session, facility_actor(facility), get_cipher())
        query = f"identifier={facility_patient_system(facility)}|{mrn}"
        found = matching(store, "Patient", query)
        return found[0].as_dict() if found else None


@pytest.fixture(scope="module")
def b_patient(database: str) -> tuple[str, dict[str, Any]]:
    """A Patient of facility B, registered by B over a connection the test environment trusts."""
    mrn = new_mrn()
    message, control_id = adt(B_HL7, "A04", mrn, "张", "19800101")
    with running_gateway() as gateway:
        assert msa(gateway.send(message)[0])[0] == "AA"
        wait_processed(B, {control_id})
    found = patient(B, mrn)
    assert found is not None
    return mrn, found


def assert_refused_at_msh4(ack: bytes, control_id: str) -> str:
    """AR (original mode) with an ERR at MSH-4, code 103; returns the ERR text."""
    assert msa(ack) == ("AR", control_id)
    err = parse_message(ack.decode()).first("ERR")
    assert err is not None
    assert err.field(2) == "MSH^1^4" and err.get(3, 1) == "103" and err.get(8)
    return err.get(8)


def assert_refusal_recorded(control_id: str, forged: bytes) -> None:
    """Kept in the message log as rejected (no facility: none was established), with an
    audit record in the same commit naming the source address."""
    (row,) = inbox_rows(lambda r: r.control_id == control_id)
    assert row.status == MessageStatus.REJECTED.value and row.facility_code is None
    assert row.sending_facility == B_HL7 and row.ack_code == "AR"
    assert row.error and "MSH-4" in row.error
    assert get_cipher().open_bytes(row.raw) == forged
    with session_scope() as session:
        records = session.scalars(
            select(AuditRecord).where(AuditRecord.interaction == "receive")
        ).all()
        mine = [r for r in records if f"HL7v2Message/{row.id}" in json.loads(r.resources)]
        assert len(mine) == 1
        (record,) = mine
        assert record.outcome == "4" and record.source_address == "127.0.0.1"
        assert record.outcome_text and f"claims facility {B}" in record.outcome_text


def assert_unchanged(b_patient: tuple[str, dict[str, Any]]) -> None:
    mrn, before = b_patient
    after = patient(B, mrn)
    assert after is not None
    assert after["name"] == before["name"] and after["birthDate"] == before["birthDate"] == (
        "1980-01-01"
    )
    assert after["meta"]["versionId"] == before["meta"]["versionId"]


# --- (1) plaintext, source addresses allow-listed per facility ------------------------------


def allow_list_settings(environment: Environment) -> Settings:
    """A allow-listed at 127.0.0.1; B only from a network the test never sends from."""
    sources = json.dumps({A: ["127.0.0.1"], B_HL7: ["10.99.0.0/16"]})
    settings = Settings(mllp_plaintext_sources=sources)
    # Production as the listener sees it. Settings(environment=production) would refuse the
    # SQLite test database; the listener's storage reads the process's settings regardless.
    return settings.model_copy(update={"environment": environment})


@pytest.mark.parametrize("environment", [Environment.TEST, Environment.PRODUCTION])
def test_a_facility_not_allow_listed_for_the_source_address_is_refused(
    b_patient: tuple[str, dict[str, Any]], environment: Environment
) -> None:
    forged, forged_id = adt(B_HL7, "A08", b_patient[0], "冒名", "20010101")
    mrn = new_mrn()
    own, own_id = adt(A_HL7, "A04", mrn, "李", "19700101")
    with running_gateway(allow_list_settings(environment)) as gateway:
        forged_ack, own_ack = gateway.send(forged, own)  # one connection, as the attacker had
        wait_processed(A, {own_id})
    text = assert_refused_at_msh4(forged_ack, forged_id)
    assert "127.0.0.1" in text  # the address the hub saw, for the sender's operators
    assert msa(own_ack) == ("AA", own_id)
    assert_refusal_recorded(forged_id, forged)
    assert_unchanged(b_patient)
    registered = patient(A, mrn)
    assert registered is not None and registered["birthDate"] == "1970-01-01"


# --- (2) TLS with client certificates -------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    a_cert: Path  # a client certificate of facility A: CN its HL7 name, O its Chinese name
    a_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("hl7-pki")
    ca_key, server_key, a_key = new_key(), new_key(), new_key()
    ca_name = name("Yichang Hub Test CA")
    ca = issue(ca_name, ca_key, ca_name, ca_key, ca=True)
    server = issue(name("localhost"), server_key, ca_name, ca_key, san=LOOPBACK_SAN)
    a_cert = issue(name(A_HL7, "宜昌市中心人民医院"), a_key, ca_name, ca_key)
    write_pem(d / "ca.pem", ca, ca_key)
    return Pki(
        ca=d / "ca.pem",
        server_cert=write_pem(d / "server.pem", server, server_key),
        server_key=d / "server.key",
        a_cert=write_pem(d / "a.pem", a_cert, a_key),
        a_key=d / "a.key",
    )


def test_msh4_must_name_the_facility_of_the_client_certificate(
    b_patient: tuple[str, dict[str, Any]], pki: Pki
) -> None:
    settings = Settings(
        mllp_tls_cert=pki.server_cert, mllp_tls_key=pki.server_key, mllp_tls_client_ca=pki.ca
    )
    as_a: ssl.SSLContext = client_context(ca_file=pki.ca, cert_file=pki.a_cert, key_file=pki.a_key)
    forged, forged_id = adt(B_HL7, "A08", b_patient[0], "冒名", "20010101")
    mrn = new_mrn()
    own, own_id = adt(A_HL7, "A04", mrn, "王", "19750101")
    with running_gateway(settings) as gateway:
        forged_ack, own_ack = gateway.send(forged, own, ssl_context=as_a)
        wait_processed(A, {own_id})
    assert_refused_at_msh4(forged_ack, forged_id)
    assert msa(own_ack) == ("AA", own_id)
    assert_refusal_recorded(forged_id, forged)
    assert_unchanged(b_patient)
    assert patient(A, mrn) is not None


# --- neither configured outside production: accepted as before, with a warning --------------


def test_an_unauthenticated_listener_says_so_when_it_starts(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``hub mllp`` and ``hub demo`` both start the listener through this gateway."""
    caplog.set_level(logging.INFO, logger="hub.hl7v2.gateway")

    def logged(level: int) -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "hub.hl7v2.gateway" and r.levelno == level
        ]

    with running_gateway():
        pass
    assert any("WITHOUT sender authentication" in m for m in logged(logging.WARNING))
    caplog.clear()
    with running_gateway(allow_list_settings(Environment.TEST)):
        pass
    assert not logged(logging.WARNING)
    assert any("authenticated by source address" in m for m in logged(logging.INFO))


# --- (3) production with neither: the listener does not start ---------------------------


def test_production_without_sender_authentication_refuses_to_start(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused at start, not per connection: a misconfigured production listener fails its
    deployment loudly instead of running and answering every facility with AR."""
    production = get_settings().model_copy(update={"environment": Environment.PRODUCTION})
    with pytest.raises(SenderConfigError, match="must authenticate senders"):
        Hl7Gateway(production, port=0)

    def must_not_listen(*args: object, **kwargs: object) -> None:
        raise AssertionError("the listener was started")

    monkeypatch.setattr("hub.settings.get_settings", lambda: production)
    monkeypatch.setattr("adapters.hl7v2.gateway.serve_mllp", must_not_listen)
    result = CliRunner().invoke(app, ["mllp", "--port", "0"])  # `hub mllp`
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "refusing to start the MLLP listener" in message
    assert "HUB_MLLP_TLS_CLIENT_CA" in message and "HUB_MLLP_PLAINTEXT_SOURCES" in message
