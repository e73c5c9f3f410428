"""The summary-based consent filter of searches decides exactly as the decision point.

Hypothesis generates patients, their Observations (unlabelled or carrying one sensitivity label,
recorded by H001 or by the searching facility H002) and Consent sets (permit or deny; for H002,
H003 or anyone; for a purpose; for a resource type; for a sensitivity label; for one resource;
with a period that ended, holds now or starts later; active or inactive), written through the
store as every path writes them. The rows the search's SQL keeps (before any per-row screening)
must be exactly those ``ConsentGuard.decide`` -- the pure decision point over the consents the
enforcement point loads itself -- permits, for both forms of the filter (per-row tests for a
narrow search, one set of denied rows for a broad one), on the run's database and on PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import false, select
from sqlalchemy.orm import Session

import consent.search_filter
from hub.auth.actor import SYSTEM_ACTOR, Actor
from hub.auth.roles import Role
from hub.db import new_session
from hub.fhir.models import ResourceRow
from hub.fhir.search.engine import visible_only
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.seeding import seed_region
from hub.settings import get_settings

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
NOW = datetime.now(UTC)
PERIODS = {
    "ended": {"start": (NOW - timedelta(days=30)).date().isoformat(),
              "end": (NOW - timedelta(days=2)).date().isoformat()},
    "now": {"start": (NOW - timedelta(days=2)).date().isoformat(),
            "end": (NOW + timedelta(days=30)).date().isoformat()},
    "later": {"start": (NOW + timedelta(days=2)).date().isoformat()},
}  # fmt: skip

provisions = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["permit", "deny"]),
        "actor": st.sampled_from([None, "H002", "H003"]),
        "purpose": st.sampled_from([None, "TREAT", "HPAYMT"]),
        "class": st.sampled_from([None, "Observation", "Patient"]),
        "label": st.sampled_from([None, "HIV", "PSY"]),
        "period": st.sampled_from([None, *PERIODS]),
        "data": st.sampled_from([None, 0, 1]),  # the patient's first or second Observation
        "nested": st.sampled_from([None, "permit", "deny"]),  # an exception inside it
        "status": st.sampled_from(["active", "active", "inactive"]),
    }
)
patients = st.fixed_dictionaries(
    {
        "observations": st.lists(
            st.tuples(st.sampled_from([None, "HIV", "PSY"]), st.sampled_from(["H001", "H002"])),
            min_size=1,
            max_size=3,
        ),
        "consents": st.lists(provisions, max_size=3),
    }
)
scenarios = st.fixed_dictionaries(
    {
        "patients": st.lists(patients, min_size=1, max_size=3),
        "purpose": st.sampled_from(["TREAT", "HPAYMT", "ETREAT"]),
    }
)


def facility(code: str) -> Actor:
    return Actor.build(client_id=f"prop-{code}", facility=code, role=Role.facility_system,
                       scope="system/*.cruds", purpose_of_use="TREAT")  # fmt: skip


def consent_body(patient: str, spec: dict[str, Any], observations: list[str]) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": spec["type"]}
    if spec["actor"]:
        provision["actor"] = [{"reference": {"reference": f"Organization/{spec['actor']}"},
                               "role": {"coding": [{"code": "IRCP"}]}}]  # fmt: skip
    if spec["purpose"]:
        provision["purpose"] = [{"system": REASON, "code": spec["purpose"]}]
    if spec["class"]:
        provision["class"] = [{"code": spec["class"]}]
    if spec["label"]:
        provision["securityLabel"] = [{"system": ACT, "code": spec["label"]}]
    if spec["period"]:
        provision["period"] = PERIODS[spec["period"]]
    if spec["data"] is not None and spec["data"] < len(observations):
        provision["data"] = [{"meaning": "instance",
                              "reference": {"reference": observations[spec["data"]]}}]  # fmt: skip
    if spec["nested"]:
        provision["provision"] = [{"type": spec["nested"],
                                   "securityLabel": [{"system": ACT, "code": "HIV"}]}]  # fmt: skip
    return {
        "resourceType": "Consent",
        "status": spec["status"],
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "provision": provision,
    }  # fmt: skip


def write_scenario(session: Session, scenario: dict[str, Any]) -> None:
    cipher, base = get_cipher(), get_settings().fhir_base_url
    stores = {code: FhirStore(session, facility(code), cipher, base) for code in ("H001", "H002")}
    operator = FhirStore(session, SYSTEM_ACTOR, cipher, base)
    for spec in scenario["patients"]:
        patient = (
            stores["H001"]
            .create(
                "Patient",
                {"resourceType": "Patient", "name": [{"family": "属性", "given": ["测"]}]},
            )
            .resource_id
        )
        observations = []
        for label, writer in spec["observations"]:
            body: dict[str, Any] = {
                "resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{patient}"},
            }  # fmt: skip
            if label:
                body["meta"] = {"security": [{"system": ACT, "code": label}]}
            created = stores[writer].create("Observation", body)
            observations.append(f"Observation/{created.resource_id}")
        for given_consent in spec["consents"]:
            operator.create("Consent", consent_body(patient, given_consent, observations))


def kept_and_permitted(session: Session, actor: Actor, resource_type: str) -> tuple[set, set]:
    """(ids the search SQL keeps, ids the decision point permits) of every row of the type."""
    store = FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)
    definition = RESOURCE_DEFS[resource_type]
    where = [ResourceRow.resource_type == resource_type, ResourceRow.deleted == false()]
    conds = visible_only(store, resource_type, definition, list(where))
    kept = set(session.execute(select(ResourceRow.resource_id).where(*conds)).scalars())
    permitted = set()
    for row in session.execute(select(ResourceRow).where(*where)).scalars():
        decision = store.guard.decide(store.to_stored(row, row.version_id).as_dict(), definition)
        if decision is None or decision.permitted:
            permitted.add(row.resource_id)
    return kept, permitted


@contextmanager
def rolled_back() -> Iterator[Session]:
    session = new_session()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def check_scenario(scenario: dict[str, Any], broad_from: int) -> None:
    reason = "昏迷患者急诊抢救" if scenario["purpose"] == "ETREAT" else None
    searcher = Actor.build(client_id="prop-h002", facility="H002", role=Role.practitioner,
                           scope="system/*.rs", purpose_of_use=scenario["purpose"],
                           purpose_reason=reason)  # fmt: skip
    with rolled_back() as session:
        write_scenario(session, scenario)
        for resource_type in ("Observation", "Patient"):
            kept, permitted = kept_and_permitted(session, searcher, resource_type)
            assert kept == permitted, f"{resource_type}: {scenario!r}"


# On a PostgreSQL run the run's database is PostgreSQL: a second pass there would repeat it.
_ON_POSTGRES = os.environ.get("HUB_TEST_DATABASE_URL", "").startswith("postgresql")
DATABASES = ["run's database"] if _ON_POSTGRES else ["run's database", "postgresql"]


@pytest.fixture(params=DATABASES)
def on_each_database(request: pytest.FixtureRequest, database: str) -> Iterator[None]:
    if request.param == "postgresql" and not database.startswith("postgresql"):
        request.getfixturevalue("hub_on_postgres")
    seed_region()
    yield


@pytest.mark.parametrize("broad_from", [10**9, 0], ids=["row tests", "row sets"])
@settings(
    max_examples=int(os.environ.get("CONSENT_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios)
def test_the_summary_filter_keeps_exactly_what_the_decision_point_permits(
    on_each_database: None,
    broad_from: int,
    scenario: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consent.search_filter, "BROAD_SEARCH", broad_from)
    check_scenario(scenario, broad_from)
