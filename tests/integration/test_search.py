"""FHIR R4 search on a live hub: every parameter type, prefix and modifier the hub serves,
paging, sorting, includes, result parameters, protected identifiers, hostile input, error
handling and the patient compartment.

Each test creates its own resources tagged with a fresh marker identifier and ANDs the marker
into its searches, so tests neither see nor depend on each other's data.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from hub.auth.roles import Role
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.matching.identifiers import make_resident_id

MARKER_SYSTEM = "urn:test:search-marker"
MRN_SYSTEM = "urn:test:mrn"
UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}

Resource = dict[str, Any]
Params = list[tuple[str, str]]


# -- helpers ---------------------------------------------------------------------------------


def new_marker() -> str:
    return uuid.uuid4().hex


def marked(marker: str, *identifiers: dict[str, str]) -> list[dict[str, str]]:
    return [{"system": MARKER_SYSTEM, "value": marker}, *identifiers]


def create(api: httpx.Client, resource: Resource) -> Resource:
    response = api.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: Resource = response.json()
    return created


def patient(marker: str, **fields: Any) -> Resource:
    return {"resourceType": "Patient", "identifier": marked(marker), **fields}


def observation(marker: str, subject: str | None = None, **fields: Any) -> Resource:
    resource: Resource = {
        "resourceType": "Observation",
        "identifier": marked(marker),
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "2345-7"}]},
        **fields,
    }
    if subject is not None:
        resource["subject"] = {"reference": subject}
    return resource


def search(client: httpx.Client, resource_type: str, params: Params | dict[str, str]) -> Resource:
    response = client.get(f"/{resource_type}", params=params)
    assert response.status_code == 200, response.text
    bundle: Resource = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return bundle


def entries(bundle: Resource, mode: str = "match") -> list[Resource]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def ids(bundle: Resource, mode: str = "match") -> list[str]:
    return [r["id"] for r in entries(bundle, mode)]


def link(bundle: Resource, relation: str) -> str | None:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            url: str = item["url"]
            return url
    return None


def refused(response: httpx.Response, parameter: str) -> Resource:
    assert response.status_code == 400, response.text
    outcome: Resource = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert issue["severity"] == "error"
    named = " ".join([issue.get("diagnostics", ""), *issue.get("expression", [])])
    assert parameter in named, outcome
    return outcome


Finder = Callable[..., set[str]]


@pytest.fixture
def find(api: httpx.Client) -> Finder:
    """``find(type, marker, name=value, ...)``: ids of the marked resources matching the rest."""

    def run(resource_type: str, marker: str, *pairs: tuple[str, str], **named: str) -> set[str]:
        params: Params = [("identifier", f"{MARKER_SYSTEM}|{marker}"), ("_count", "100")]
        params += list(pairs) + list(named.items())
        bundle = search(api, resource_type, params)
        found = ids(bundle)
        assert len(found) == len(set(found)), "duplicate entries"
        assert bundle["total"] == len(found)
        return set(found)

    return run


def by_name(created: Iterable[Resource], *names: str) -> set[str]:
    index = {r["name"][0].get("family", r["name"][0].get("text")): r["id"] for r in created}
    return {index[n] for n in names}


# -- _id and _lastUpdated --------------------------------------------------------------------


def test_id(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    a, b, _ = (create(api, patient(m))["id"] for _ in range(3))
    assert find("Patient", m, _id=a) == {a}
    assert find("Patient", m, _id=f"{a},{b}") == {a, b}
    assert find("Patient", m, _id="no-such-id") == set()
    assert len(find("Patient", m, ("_id:not", a))) == 2
    assert find("Patient", m, ("_id:missing", "true")) == set()


def test_updates_and_deletes_reach_the_index(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    created = create(api, patient(m, name=[{"family": "旧"}]))
    pid = created["id"]
    gone = create(api, patient(m, name=[{"family": "旧"}]))["id"]
    assert find("Patient", m, family="旧") == {pid, gone}
    assert api.put(f"/Patient/{pid}", json={**created, "name": [{"family": "新"}]}).is_success
    assert api.delete(f"/Patient/{gone}").status_code == 204
    assert find("Patient", m, family="旧") == set()
    assert find("Patient", m, family="新") == {pid}
    assert find("Patient", m, _id=gone) == set()
    assert find("Patient", m) == {pid}


def test_last_updated(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    created = create(api, patient(m))
    pid, stamp = created["id"], created["meta"]["lastUpdated"]
    assert stamp.endswith("Z")
    local_year = datetime.fromisoformat(stamp).astimezone(ZoneInfo("Asia/Shanghai")).year
    expectations = {
        stamp: {pid},
        f"eq{stamp}": {pid},
        f"ne{stamp}": set(),
        f"ge{stamp}": {pid},
        f"le{stamp}": {pid},
        f"gt{stamp}": set(),
        f"lt{stamp}": set(),
        f"sa{stamp}": set(),
        f"eb{stamp}": set(),
        f"ap{stamp}": {pid},
        str(local_year): {pid},
        f"gt{local_year - 1}": {pid},
        f"lt{local_year + 1}": {pid},
        f"eb{local_year}": set(),
        f"sa{local_year - 1}": {pid},
        "lt2000-01-01": set(),
        "ge2000-01-01T00:00:00Z": {pid},
    }
    for value, expected in expectations.items():
        assert find("Patient", m, _lastUpdated=value) == expected, value
    # A later update moves it forward.
    updated = api.put(f"/Patient/{pid}", json={**created, "gender": "other"})
    assert updated.status_code == 200
    assert find("Patient", m, _lastUpdated=f"gt{stamp}") == {pid}


# -- token -----------------------------------------------------------------------------------


def test_token_forms(
    api: httpx.Client, find: Finder, client_for: Callable[..., httpx.Client]
) -> None:
    m, mrn = new_marker(), new_marker()
    with_system = create(
        api, patient(m, identifier=marked(m, {"system": MRN_SYSTEM, "value": mrn}))
    )
    # a practitioner: a facility system's system-less numbers get its namespace (fhir_inbound)
    practitioner = client_for(role=Role.practitioner)
    without_system = create(practitioner, patient(m, identifier=marked(m, {"value": mrn})))
    other_system = create(
        api, patient(m, identifier=marked(m, {"system": "urn:other", "value": mrn}))
    )
    a, b, c = with_system["id"], without_system["id"], other_system["id"]

    assert find("Patient", m, ("identifier", f"{MRN_SYSTEM}|{mrn}")) == {a}
    assert find("Patient", m, ("identifier", f"|{mrn}")) == {b}
    assert find("Patient", m, ("identifier", f"{MRN_SYSTEM}|")) == {a}
    assert find("Patient", m, ("identifier", mrn)) == {a, b, c}
    assert find("Patient", m, ("identifier", f"{MRN_SYSTEM}|{mrn},urn:other|{mrn}")) == {a, c}
    assert find("Patient", m, ("identifier", f"{MRN_SYSTEM}|nope")) == set()


def test_token_not_includes_resources_without_a_value(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    male = create(api, patient(m, gender="male"))["id"]
    female = create(api, patient(m, gender="female"))["id"]
    unknown = create(api, patient(m))["id"]
    assert find("Patient", m, gender="male") == {male}
    assert find("Patient", m, gender="male,female") == {male, female}
    assert find("Patient", m, ("gender:not", "male")) == {female, unknown}
    assert find("Patient", m, ("gender:not", "male"), ("gender:not", "female")) == {unknown}
    assert find("Patient", m, ("gender:missing", "true")) == {unknown}
    assert find("Patient", m, ("gender:missing", "false")) == {male, female}


def test_deceased(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    alive = create(api, patient(m))["id"]
    said_alive = create(api, patient(m, deceasedBoolean=False))["id"]
    dead = create(api, patient(m, deceasedBoolean=True))["id"]
    died = create(api, patient(m, deceasedDateTime="2020-01-02T03:04:05+08:00"))["id"]
    assert find("Patient", m, deceased="true") == {dead, died}
    assert find("Patient", m, deceased="false") == {alive, said_alive}
    assert find("Patient", m, ("death-date", "2020-01-02")) == {died}
    assert find("Patient", m, ("death-date:missing", "true")) == {alive, said_alive, dead}


def test_codeable_concept_token(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    glucose = create(api, observation(m))["id"]
    other = create(
        api, observation(m, code={"coding": [{"system": "urn:local", "code": "2345-7"}]})
    )["id"]
    assert find("Observation", m, code=f"{LOINC}|2345-7") == {glucose}
    assert find("Observation", m, code="2345-7") == {glucose, other}
    assert find("Observation", m, ("code:not", f"{LOINC}|2345-7")) == {other}


def test_tag_and_profile(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    profile = "https://hub.yichang.example/fhir/StructureDefinition/test-patient"
    tagged = create(
        api,
        patient(m, meta={"tag": [{"system": "urn:test:tag", "code": "vip"}], "profile": [profile]}),
    )["id"]
    plain = create(api, patient(m))["id"]
    assert find("Patient", m, _tag="urn:test:tag|vip") == {tagged}
    assert find("Patient", m, ("_tag:not", "vip")) == {plain}
    assert find("Patient", m, _profile=profile) == {tagged}
    assert find("Patient", m, _profile=profile.rsplit("/", 1)[0]) == set()
    assert find("Patient", m, ("_profile:below", profile.rsplit("/", 1)[0] + "/")) == {tagged}
    assert find("Patient", m, ("_profile:below", "https://hub.yichang.example/fhir/%")) == set()


# -- string ----------------------------------------------------------------------------------


def test_string_prefix_case_and_accents(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    created = [
        create(api, patient(m, name=[{"family": family, "given": ["Jürgen"]}]))
        for family in ("Müller", "Mullerova", "Schmüller", "Ab_c", "Abxc")
    ]
    named = lambda *names: by_name(created, *names)  # noqa: E731
    assert find("Patient", m, name="muller") == named("Müller", "Mullerova")
    assert find("Patient", m, family="MÜLLER") == named("Müller", "Mullerova")
    assert find("Patient", m, family="mul") == named("Müller", "Mullerova")
    assert find("Patient", m, family="ller") == set()  # default is starts-with, not contains
    assert find("Patient", m, given="jurgen") == named(
        "Müller", "Mullerova", "Schmüller", "Ab_c", "Abxc"
    )
    # Starts-with applies to the whole "given family" form too.
    assert find("Patient", m, name="jurgen muller") == named("Müller", "Mullerova")
    assert find("Patient", m, name="jurgen mullero") == named("Mullerova")
    # LIKE wildcards in a value are data.
    assert find("Patient", m, family="ab_") == named("Ab_c")
    assert find("Patient", m, family="%") == set()


def test_string_exact_and_contains(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    created = [
        create(api, patient(m, name=[{"family": family}])) for family in ("Müller", "Schmüller")
    ]
    named = lambda *names: by_name(created, *names)  # noqa: E731
    assert find("Patient", m, ("family:exact", "Müller")) == named("Müller")
    assert find("Patient", m, ("family:exact", "muller")) == set()
    assert find("Patient", m, ("family:exact", "Mül")) == set()
    assert find("Patient", m, ("family:contains", "ULLER")) == named("Müller", "Schmüller")
    assert find("Patient", m, ("family:contains", "schm")) == named("Schmüller")


def test_chinese_names(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    zhang_wei = create(api, patient(m, name=[{"family": "张", "given": ["伟"]}]))["id"]
    zhang_san = create(api, patient(m, name=[{"family": "张", "given": ["三"]}]))["id"]
    li_wei = create(api, patient(m, name=[{"family": "李", "given": ["伟"]}]))["id"]
    ouyang = create(api, patient(m, name=[{"family": "欧阳", "given": ["小明"]}]))["id"]
    assert find("Patient", m, name="张伟") == {zhang_wei}
    assert find("Patient", m, family="张") == {zhang_wei, zhang_san}
    assert find("Patient", m, given="伟") == {zhang_wei, li_wei}
    assert find("Patient", m, name="伟") == {zhang_wei, li_wei}
    assert find("Patient", m, name="欧阳小明") == {ouyang}
    assert find("Patient", m, name="欧阳") == {ouyang}
    assert find("Patient", m, ("name:exact", "张伟")) == {zhang_wei}
    assert find("Patient", m, ("name:contains", "阳小")) == {ouyang}
    assert find("Patient", m, name="王") == set()


def test_missing_string(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    named = create(api, patient(m, name=[{"family": "张"}]))["id"]
    nameless = create(api, patient(m))["id"]
    assert find("Patient", m, ("name:missing", "true")) == {nameless}
    assert find("Patient", m, ("name:missing", "false")) == {named}


# -- date ------------------------------------------------------------------------------------

BIRTH_DATES = {"A": "1980-03-02", "B": "1980-03-20", "C": "1981-01-01", "D": "1979-12-31"}
BIRTHDATE_CASES = [
    ("1980", "AB"),
    ("1980-03", "AB"),
    ("1980-03-02", "A"),
    ("eq1980-03-02", "A"),
    ("ne1980-03-02", "BCD"),
    ("lt1980-03-02", "D"),
    ("le1980-03-02", "AD"),
    ("gt1980-03-02", "BC"),
    ("ge1980-03-02", "ABC"),
    ("sa1980-03-02", "BC"),
    ("eb1980-03-02", "D"),
    ("ap1980-03-02", "ABCD"),  # 10% of the ~45 years to now is ~4.5 years either side
    ("ap2000-01-01", ""),
    ("eq1980", "AB"),
    ("ne1980", "CD"),
    ("lt1980", "D"),
    ("le1980", "ABD"),
    ("gt1980", "C"),
    ("ge1980", "ABC"),
    ("sa1980", "C"),
    ("eb1980", "D"),
    ("eq1980-03", "AB"),
    ("ne1980-03", "CD"),
    ("lt1980-03", "D"),
    ("le1980-03", "ABD"),
    ("gt1980-03", "C"),
    ("ge1980-03", "ABC"),
    ("sa1980-03", "C"),
    ("eb1980-03", "D"),
    ("1979,1981", "CD"),
    ("1980-03-02T00:00:00+08:00", ""),  # a second never contains a whole day
    ("ge1980-03-02T12:00:00Z", "ABC"),  # A's day runs on past that instant
    ("gt1980-03-02T16:00:00Z", "BC"),  # ... and ends exactly at this one
]


@pytest.fixture(scope="module")
def birth_patients(api: httpx.Client) -> tuple[str, dict[str, str]]:
    m = new_marker()
    made = {key: create(api, patient(m, birthDate=day))["id"] for key, day in BIRTH_DATES.items()}
    return m, made


@pytest.mark.parametrize(("value", "expected"), BIRTHDATE_CASES)
def test_birthdate_prefixes(
    birth_patients: tuple[str, dict[str, str]], find: Finder, value: str, expected: str
) -> None:
    m, made = birth_patients
    assert find("Patient", m, birthdate=value) == {made[k] for k in expected}


def test_birthdate_range_by_repetition(
    birth_patients: tuple[str, dict[str, str]], find: Finder
) -> None:
    m, made = birth_patients
    found = find("Patient", m, ("birthdate", "ge1980-01-01"), ("birthdate", "lt1981"))
    assert found == {made["A"], made["B"]}


ENCOUNTER_PERIODS = {
    "E1": {"start": "2024-01-10T08:00:00+08:00", "end": "2024-01-12T10:00:00+08:00"},
    "E2": {"start": "2024-01-15T09:00:00+08:00"},  # still open
    "E3": {"start": "2023-12-31T20:00:00+08:00", "end": "2024-01-01T02:00:00+08:00"},
    "E4": {"start": "2024-02-01T08:00:00+08:00", "end": "2024-02-01T09:00:00+08:00"},
    "E5": {"end": "2023-06-01T00:00:00+08:00"},  # start unknown
}
ENCOUNTER_CASES = [
    ("2024-01", "E1"),
    ("2024", "E1 E4"),
    ("2024-02-01", "E4"),
    ("2024-01-11", ""),  # the stay covers more than the day searched
    ("ne2024-01", "E2 E3 E4 E5"),
    ("lt2024-01-01", "E3 E5"),
    ("le2024-01-10", "E3 E5"),
    ("gt2024-01-11", "E1 E2 E4"),
    ("ge2024-01-15", "E2 E4"),
    ("sa2024-01-12", "E2 E4"),
    ("eb2024-01-15", "E1 E3 E5"),
    ("eb2024", "E5"),
    ("sa2023", "E1 E2 E4"),
    ("gt2030", "E2"),
    ("2024-01-10T08:00:00+08:00", ""),
    ("ge2024-01-12T09:59:00+08:00", "E1 E2 E4"),
]


@pytest.fixture(scope="module")
def encounters(api: httpx.Client) -> tuple[str, dict[str, str]]:
    m = new_marker()
    made = {
        key: create(
            api,
            {
                "resourceType": "Encounter",
                "identifier": marked(m),
                "status": "finished",
                "class": {"code": "AMB"},
                "period": period,
            },
        )["id"]
        for key, period in ENCOUNTER_PERIODS.items()
    }
    return m, made


@pytest.mark.parametrize(("value", "expected"), ENCOUNTER_CASES)
def test_period_prefixes(
    encounters: tuple[str, dict[str, str]], find: Finder, value: str, expected: str
) -> None:
    m, made = encounters
    assert find("Encounter", m, date=value) == {made[k] for k in expected.split()}


def test_period_approximately(encounters: tuple[str, dict[str, str]], find: Finder) -> None:
    m, made = encounters
    assert made["E1"] in find("Encounter", m, date="ap2024-01-11")


def test_observation_date_time_at_minute_precision(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    oid = create(api, observation(m, effectiveDateTime="2024-05-06T10:20:30+08:00"))["id"]
    assert find("Observation", m, date="2024-05-06T10:20") == {oid}
    assert find("Observation", m, date="2024-05-06T02:20Z") == {oid}
    assert find("Observation", m, date="2024-05-06T10:21") == set()
    assert find("Observation", m, date="lt2024-05-06T10:21") == {oid}


# -- reference -------------------------------------------------------------------------------


def test_reference_forms(api: httpx.Client, find: Finder) -> None:
    m, mrn = new_marker(), new_marker()
    family = f"Ref{mrn[:10]}"
    base = str(api.base_url).rstrip("/")
    pid = create(
        api,
        patient(
            m,
            identifier=marked(m, {"system": MRN_SYSTEM, "value": mrn}),
            name=[{"family": family, "given": ["伟"]}],
        ),
    )["id"]
    other = create(api, patient(m))["id"]
    mine = create(api, observation(m, f"Patient/{pid}"))["id"]
    theirs = create(api, observation(m, f"Patient/{other}"))["id"]
    absolute = create(api, observation(m, f"{base}/Patient/{pid}"))["id"]
    group = create(api, observation(m, f"Group/{pid}"))["id"]  # same id, another type
    me = {mine, absolute}

    assert find("Observation", m, subject=f"Patient/{pid}") == me
    assert find("Observation", m, patient=pid) == me
    assert find("Observation", m, ("subject:Patient", pid)) == me
    assert find("Observation", m, subject=pid) == {*me, group}
    assert find("Observation", m, subject=f"{base}/Patient/{pid}") == me
    assert find("Observation", m, subject=f"Group/{pid}") == {group}
    assert find("Observation", m, patient=f"{pid},{other}") == {*me, theirs}
    assert find("Observation", m, ("subject:missing", "false")) == {*me, theirs, group}

    chained = {
        "subject:Patient.identifier": f"{MRN_SYSTEM}|{mrn}",
        "patient.identifier": mrn,
        "patient.name": family.lower(),
        "patient.family:exact": family,
        "subject:Patient.name": f"{family},nobody-at-all",
        "patient._id": pid,
    }
    for key, value in chained.items():
        assert find("Observation", m, (key, value)) == me, key
    assert find("Observation", m, ("patient.name", "nobody-at-all")) == set()


def test_chain_without_type_on_ambiguous_reference_is_refused(api: httpx.Client) -> None:
    refused(api.get("/Observation", params={"subject.name": "x"}), "subject")


def test_reverse_chain_free_search_by_encounter(api: httpx.Client, find: Finder) -> None:
    m = new_marker()
    eid = create(
        api,
        {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"}},
    )["id"]
    oid = create(api, observation(m, encounter={"reference": f"Encounter/{eid}"}))["id"]
    assert find("Observation", m, encounter=eid) == {oid}
    assert find("Observation", m, ("encounter.status", "finished")) == {oid}


# -- quantity --------------------------------------------------------------------------------

QUANTITY_CASES = [
    ("5.4", "low"),
    ("5", "low"),  # precision of 5 is ±0.5
    ("5.40", "low"),
    ("6", "mid"),
    ("eq120", "high"),
    ("ne5.4", "mid high"),
    ("gt5.4", "mid high"),
    ("lt6", "low"),
    ("ge6", "mid high"),
    ("le5.4", "low"),
    ("sa5.4", "mid high"),
    ("eb6", "low"),
    ("ap5.5", "low mid"),
    ("5.4|http://unitsofmeasure.org|mmol/L", "low"),
    ("gt5|http://unitsofmeasure.org|mmol/L", "low mid"),
    ("120|http://unitsofmeasure.org|mmol/L", ""),
    ("120||mg/dL", "high"),
    ("ge0|http://unitsofmeasure.org|mg/dL", "high"),
    ("gt0|urn:other|mmol/L", ""),
    ("5.4,120", "low high"),
    ("1e2", "high"),  # 100 ± 50
]


@pytest.fixture(scope="module")
def quantities(api: httpx.Client) -> tuple[str, dict[str, str]]:
    m = new_marker()
    values = {"low": (5.4, "mmol/L"), "mid": (6.0, "mmol/L"), "high": (120, "mg/dL")}
    made = {
        key: create(
            api,
            observation(
                m,
                valueQuantity={"value": value, "unit": code, "system": UCUM, "code": code},
            ),
        )["id"]
        for key, (value, code) in values.items()
    }
    return m, made


@pytest.mark.parametrize(("value", "expected"), QUANTITY_CASES)
def test_quantity(
    quantities: tuple[str, dict[str, str]], find: Finder, value: str, expected: str
) -> None:
    m, made = quantities
    assert find("Observation", m, ("value-quantity", value)) == {made[k] for k in expected.split()}


# -- paging ----------------------------------------------------------------------------------


def test_paging_links_walk_every_match_once(api: httpx.Client) -> None:
    m = new_marker()
    made = {create(api, patient(m, name=[{"family": f"页{i}"}]))["id"] for i in range(7)}
    first = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "3"})
    assert first["total"] == 7
    assert len(ids(first)) == 3
    assert link(first, "self") is not None
    assert link(first, "previous") is None

    pages = [first]
    while (url := link(pages[-1], "next")) is not None:
        response = api.get(url)  # the link is absolute; the client follows it as given
        assert response.status_code == 200, response.text
        pages.append(response.json())
        assert len(pages) < 10
    seen = [pid for page in pages for pid in ids(page)]
    assert [len(ids(p)) for p in pages] == [3, 3, 1]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made
    assert all(p["total"] == 7 for p in pages)

    back = link(pages[1], "previous")
    assert back is not None
    assert ids(api.get(back).json()) == ids(first)


def test_paging_keeps_sort_and_criteria(api: httpx.Client) -> None:
    m = new_marker()
    for family in ("Cc", "Aa", "Ee", "Bb", "Dd"):
        create(api, patient(m, name=[{"family": family}]))
    params = {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "2", "_sort": "-family"}
    page = search(api, "Patient", params)
    families: list[str] = []
    while True:
        families += [r["name"][0]["family"] for r in entries(page)]
        url = link(page, "next")
        if url is None:
            break
        page = api.get(url).json()
    assert families == ["Ee", "Dd", "Cc", "Bb", "Aa"]


def test_exactly_full_last_page_has_no_next_link(api: httpx.Client) -> None:
    m = new_marker()
    for _ in range(4):
        create(api, patient(m))
    page = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "2"})
    next_url = link(page, "next")
    assert next_url is not None
    assert link(api.get(next_url).json(), "next") is None
    # Without a total the server still knows whether another page exists.
    page = search(
        api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "4", "_total": "none"}
    )
    assert len(ids(page)) == 4
    assert link(page, "next") is None
    page = search(
        api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "3", "_total": "none"}
    )
    assert link(page, "next") is not None


def test_count_above_the_maximum_is_reduced_to_it(api: httpx.Client) -> None:
    m = new_marker()
    create(api, patient(m))
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "99999"})
    assert bundle["total"] == 1
    self_url = link(bundle, "self")
    assert self_url is not None and "_count=1000" in self_url  # the page size actually used


def test_count_zero_gives_total_only(api: httpx.Client) -> None:
    m = new_marker()
    create(api, patient(m))
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_count": "0"})
    assert bundle["total"] == 1
    assert "entry" not in bundle


# -- sorting ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sortable(api: httpx.Client) -> tuple[str, list[Resource]]:
    m = new_marker()
    people = [
        ("Bb", "1990-05-01", "male"),
        ("Aa", "1970-01-01", "female"),
        ("Cc", "1985-07-07", "male"),
    ]
    created = [
        create(api, patient(m, name=[{"family": f}], birthDate=b, gender=g)) for f, b, g in people
    ]
    return m, created


def sorted_families(api: httpx.Client, marker: str, sort: str) -> list[str]:
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{marker}", "_sort": sort})
    return [r["name"][0]["family"] for r in entries(bundle)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("family", ["Aa", "Bb", "Cc"]),
        ("-family", ["Cc", "Bb", "Aa"]),
        ("birthdate", ["Aa", "Cc", "Bb"]),
        ("-birthdate", ["Bb", "Cc", "Aa"]),
        ("_lastUpdated", ["Bb", "Aa", "Cc"]),
        ("-_lastUpdated", ["Cc", "Aa", "Bb"]),
        ("gender,-birthdate", ["Aa", "Bb", "Cc"]),
        ("-gender,family", ["Bb", "Cc", "Aa"]),
    ],
)
def test_sort(
    api: httpx.Client, sortable: tuple[str, list[Resource]], sort: str, expected: list[str]
) -> None:
    assert sorted_families(api, sortable[0], sort) == expected


@pytest.mark.parametrize("sort", ["birthdate", "-birthdate", "family", "-family"])
def test_resources_without_the_sort_value_come_last(api: httpx.Client, sort: str) -> None:
    m = new_marker()
    dated = {
        create(api, patient(m, name=[{"family": f}], birthDate=f"19{f}-01-01"))["id"]
        for f in ("70", "80")
    }
    bare = create(api, patient(m))["id"]
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_sort": sort})
    order = ids(bundle)
    assert set(order[:2]) == dated
    assert order[2] == bare


def test_sort_by_unknown_parameter_is_refused(api: httpx.Client) -> None:
    refused(api.get("/Patient", params={"_sort": "shoe-size"}), "shoe-size")


# -- _include and _revinclude ----------------------------------------------------------------


def test_include_subject(api: httpx.Client) -> None:
    m = new_marker()
    pid = create(api, patient(m, name=[{"family": "张", "given": ["伟"]}]))["id"]
    oids = {create(api, observation(m, f"Patient/{pid}"))["id"] for _ in range(2)}
    bundle = search(
        api,
        "Observation",
        {"identifier": f"{MARKER_SYSTEM}|{m}", "_include": "Observation:subject"},
    )
    assert set(ids(bundle)) == oids
    assert ids(bundle, "include") == [pid]  # once, though two observations point at it
    assert bundle["total"] == 2  # included resources are not counted
    typed = search(
        api,
        "Observation",
        {"identifier": f"{MARKER_SYSTEM}|{m}", "_include": "Observation:subject:Group"},
    )
    assert ids(typed, "include") == []


def test_revinclude_observations_of_a_patient(api: httpx.Client) -> None:
    m = new_marker()
    pid = create(api, patient(m))["id"]
    oids = {create(api, observation(m, f"Patient/{pid}"))["id"] for _ in range(2)}
    create(api, observation(m, f"Patient/{create(api, patient(new_marker()))['id']}"))
    bundle = search(api, "Patient", {"_id": pid, "_revinclude": "Observation:subject"})
    assert ids(bundle) == [pid]
    assert set(ids(bundle, "include")) == oids
    assert bundle["total"] == 1
    other_target = search(api, "Patient", {"_id": pid, "_revinclude": "Observation:subject:Group"})
    assert ids(other_target, "include") == []
    for entry in bundle["entry"]:
        assert entry["fullUrl"].endswith(
            f"/{entry['resource']['resourceType']}/{entry['resource']['id']}"
        )


# -- result parameters -----------------------------------------------------------------------


def test_total_none_omits_total(api: httpx.Client) -> None:
    m = new_marker()
    pid = create(api, patient(m))["id"]
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_total": "none"})
    assert "total" not in bundle
    assert ids(bundle) == [pid]
    accurate = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_total": "accurate"})
    assert accurate["total"] == 1


def test_summary_count(api: httpx.Client) -> None:
    m = new_marker()
    for _ in range(3):
        create(api, patient(m))
    bundle = search(api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_summary": "count"})
    assert bundle["total"] == 3
    assert "entry" not in bundle


def test_elements(api: httpx.Client) -> None:
    m = new_marker()
    create(api, patient(m, name=[{"family": "张"}], gender="male", birthDate="1980-03-02"))
    bundle = search(
        api, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}", "_elements": "gender,birthDate"}
    )
    (resource,) = entries(bundle)
    assert resource["gender"] == "male"
    assert resource["birthDate"] == "1980-03-02"
    assert "name" not in resource and "identifier" not in resource
    assert resource["resourceType"] == "Patient" and resource["id"]
    assert {"code": "SUBSETTED"}.items() <= resource["meta"]["tag"][-1].items()


def test_post_search_form_encoded(api: httpx.Client) -> None:
    m = new_marker()
    wanted = {
        create(api, patient(m, name=[{"family": "张", "given": ["伟"]}]))["id"] for _ in range(3)
    }
    create(api, patient(m, name=[{"family": "李"}]))
    response = api.post(
        "/Patient/_search",
        content=httpx.QueryParams(
            {"identifier": f"{MARKER_SYSTEM}|{m}", "name": "张伟", "_count": "2"}
        ).__str__(),
        headers=FORM,
    )
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] == 3
    next_url = link(bundle, "next")
    assert next_url is not None
    rest = api.get(next_url)
    assert rest.status_code == 200
    assert set(ids(bundle)) | set(ids(rest.json())) == wanted


def test_post_search_combines_url_and_body(api: httpx.Client) -> None:
    m = new_marker()
    male = create(api, patient(m, gender="male"))["id"]
    create(api, patient(m, gender="female"))
    response = api.post(
        f"/Patient/_search?identifier={MARKER_SYSTEM}|{m}", content="gender=male", headers=FORM
    )
    assert response.status_code == 200, response.text
    assert ids(response.json()) == [male]


# -- protected identifiers -------------------------------------------------------------------


def random_resident_id() -> str:
    rng = random.SystemRandom()
    birth = date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28))
    return make_resident_id("420502", birth, rng.randint(0, 999), "male")


def test_search_by_resident_id_and_phone(api: httpx.Client, database: str) -> None:
    resident_id = random_resident_id()
    phone = f"139{random.SystemRandom().randint(0, 99_999_999):08d}"
    created = create(
        api,
        {
            "resourceType": "Patient",
            "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident_id}],
            "telecom": [{"system": "phone", "value": phone, "use": "mobile"}],
            "name": [{"family": "张", "given": ["伟"]}],
        },
    )
    pid = created["id"]
    searches = [
        {"identifier": f"{RESIDENT_ID_SYSTEM}|{resident_id}"},
        {"identifier": f"{RESIDENT_ID_SYSTEM}|{resident_id.lower()}"},
        {"identifier": resident_id},
        {"phone": phone},
        {"phone": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"},
        {"telecom": phone},
        {"phone": f"|{phone}"},
        {"phone": phone, "identifier": f"{RESIDENT_ID_SYSTEM}|{resident_id}"},
    ]
    for params in searches:
        bundle = search(api, "Patient", params)
        assert ids(bundle) == [pid], params
        (found,) = entries(bundle)
        assert found["identifier"][0]["value"] == resident_id
        assert found["telecom"][0]["value"] == phone
    assert ids(search(api, "Patient", {"identifier": f"urn:other|{resident_id}"})) == []
    oid = create(api, observation(new_marker(), f"Patient/{pid}"))["id"]
    chained = {"patient.identifier": f"{RESIDENT_ID_SYSTEM}|{resident_id}", "patient.phone": phone}
    for key, value in chained.items():
        assert ids(search(api, "Observation", {key: value})) == [oid], key
    assert ids(search(api, "Patient", {"phone": phone[:-1]})) == []

    # At rest: ciphertext in the resource row, only blind values in the index.
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            content = conn.execute(
                sa.text("SELECT content FROM fhir_resource WHERE resource_id = :id"), {"id": pid}
            ).scalar_one()
            codes = (
                conn.execute(
                    sa.text(
                        "SELECT t.code FROM search_token t JOIN fhir_resource r ON r.rid = t.rid "
                        "WHERE r.resource_id = :id"
                    ),
                    {"id": pid},
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert resident_id not in content and phone not in content
    assert content.count('"enc:') == 2
    assert not [c for c in codes if resident_id in c or phone in c]
    assert sum(c.startswith("bi:") for c in codes) >= 3  # identifier, phone, telecom


# -- hostile and malformed input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_type", "params"),
    [
        ("Patient", {"name": "' OR 1=1 --"}),
        ("Patient", {"name": "'; DROP TABLE fhir_resource; --"}),
        ("Patient", {"identifier": "x;DROP TABLE fhir_resource"}),
        ("Patient", {"identifier": "x' OR '1'='1|y"}),
        ("Patient", {"family:exact": '" OR ""="'}),
        ("Patient", {"name:contains": "%' --"}),
        ("Patient", {"_id": "1 OR 1=1"}),
        ("Observation", {"subject": "Patient/1' OR '1'='1"}),
        ("Observation", {"subject:Patient.name": "' UNION SELECT * FROM fhir_resource --"}),
    ],
)
def test_sql_looking_values_are_data(
    api: httpx.Client, resource_type: str, params: dict[str, str]
) -> None:
    bundle = search(api, resource_type, params)
    assert bundle["total"] == 0
    assert "entry" not in bundle
    # The table is still there and still answers.
    assert api.get("/Patient", params={"_count": "1"}).status_code == 200


@pytest.mark.parametrize(
    ("resource_type", "params", "named"),
    [
        ("Patient", {"birthdate": "1980-13-45"}, "birthdate"),
        ("Patient", {"birthdate": "ge19800302"}, "birthdate"),
        ("Patient", {"birthdate": "yesterday"}, "birthdate"),
        ("Patient", {"birthdate": "2024-05-06T10:20:30+25:00"}, "birthdate"),
        ("Patient", {"_lastUpdated": "gt2024-02-30"}, "_lastUpdated"),
        ("Observation", {"value-quantity": "abc"}, "value-quantity"),
        ("Observation", {"value-quantity": "gt5,x"}, "value-quantity"),
        ("Observation", {"value-quantity": "NaN"}, "value-quantity"),
        ("Observation", {"value-quantity": "Infinity"}, "value-quantity"),
        ("Patient", {"name": "   "}, "name"),  # would otherwise match every name
        ("Patient", {"family": "\u0301"}, "family"),  # a lone combining accent
        ("Patient", {"shoe-size": "42"}, "shoe-size"),
        ("Patient", {"family:sounds-like": "x"}, "family"),
        ("Patient", {"gender:exact": "male"}, "gender"),
        ("Patient", {"name:missing": "maybe"}, "name"),
        ("Patient", {"_count": "-1"}, "_count"),
        ("Patient", {"_count": "ten"}, "_count"),
        ("Patient", {"_include": "Patient:nonsense"}, "_include"),
        ("Observation", {"subject:Practitioner": "1"}, "subject"),
        ("Observation", {"patient.shoe-size": "1"}, "shoe-size"),
    ],
)
def test_malformed_values_are_refused_naming_the_parameter(
    api: httpx.Client, resource_type: str, params: dict[str, str], named: str
) -> None:
    refused(api.get(f"/{resource_type}", params=params), named)


def test_lenient_handling_ignores_unknown_parameters(api: httpx.Client) -> None:
    m = new_marker()
    pid = create(api, patient(m))["id"]
    params = {"identifier": f"{MARKER_SYSTEM}|{m}", "shoe-size": "42"}
    refused(api.get("/Patient", params=params), "shoe-size")
    response = api.get("/Patient", params=params, headers={"Prefer": "handling=lenient"})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert ids(bundle) == [pid]
    # The self link reports the parameters actually used, so following it works without Prefer.
    self_url = link(bundle, "self")
    assert self_url is not None and "shoe-size" not in self_url
    assert ids(api.get(self_url).json()) == [pid]
    strict = api.get("/Patient", params=params, headers={"Prefer": "handling=strict"})
    refused(strict, "shoe-size")


def test_unknown_resource_type_is_not_found(api: httpx.Client) -> None:
    response = api.get("/Spaceship", params={"name": "x"})
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


# -- patient compartment ---------------------------------------------------------------------


def test_patient_token_sees_only_its_own_compartment(
    api: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    m = new_marker()
    me = create(api, patient(m, name=[{"family": "张", "given": ["伟"]}]))["id"]
    other = create(api, patient(m, name=[{"family": "张", "given": ["伟"]}]))["id"]
    mine = {create(api, observation(m, f"Patient/{me}"))["id"] for _ in range(2)}
    mine.add(create(api, observation(m, performer=[{"reference": f"Patient/{me}"}]))["id"])
    for _ in range(3):
        create(api, observation(m, f"Patient/{other}"))
    assert search(api, "Observation", {"identifier": f"{MARKER_SYSTEM}|{m}"})["total"] == 6

    as_patient = client_for(role=Role.patient, patient=me)
    marker = {"identifier": f"{MARKER_SYSTEM}|{m}"}
    bundle = search(as_patient, "Observation", marker)
    assert set(ids(bundle)) == mine
    assert bundle["total"] == 3

    # Paging and totals count only what the patient may see.
    page = search(as_patient, "Observation", {**marker, "_count": "2"})
    assert page["total"] == 3
    next_url = link(page, "next")
    assert next_url is not None
    assert set(ids(page)) | set(ids(as_patient.get(next_url).json())) == mine
    assert search(as_patient, "Observation", {**marker, "_summary": "count"})["total"] == 3

    # Asking for someone else's data finds nothing rather than leaking it.
    assert (
        search(as_patient, "Observation", {**marker, "subject": f"Patient/{other}"})["total"] == 0
    )
    everyone = search(as_patient, "Patient", {"identifier": f"{MARKER_SYSTEM}|{m}"})
    assert ids(everyone) == [me]
    assert search(as_patient, "Patient", {"name": "张伟", "_id": other})["total"] == 0

    # Included resources obey the compartment too.
    with_subjects = search(as_patient, "Observation", {**marker, "_include": "Observation:subject"})
    assert ids(with_subjects, "include") == [me]
    revinclude = search(as_patient, "Patient", {"_id": me, "_revinclude": "Observation:subject"})
    assert ids(revinclude) == [me]
    assert len(ids(revinclude, "include")) == 2
