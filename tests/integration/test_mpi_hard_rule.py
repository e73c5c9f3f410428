"""The hard rule on every registration path: two different valid resident IDs never end up in
one person, directly or through records without an ID (Hypothesis: random arrival orders and
batch splits, online one by one and in batches), and the issue's twins stay two persons through
the bulk loader and the FHIR API."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.db import session_scope
from hub.fhir.systems import RESIDENT_ID_SYSTEM
from hub.mpi.loading.bulk import load_csv
from hub.mpi.matching.features import MatchFeatures, features_from_row
from hub.mpi.matching.identifiers import make_resident_id
from hub.mpi.models import IdentifierRow, SourceRow
from hub.mpi.registration.batch import Registration, register_sources
from hub.mpi.registration.online import register_source
from hub.security.fields import get_cipher

FAMILIES = "欧阳司马诸葛上官东方皇甫令狐慕容尉迟长孙"
GIVEN = "伟芳秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华玉萍红玲燕春菊凤洁梅琳云雪荣"
ClientFactory = Callable[..., httpx.Client]


def _chain(rng: random.Random) -> list[MatchFeatures]:
    """Records of one name and birth date at one address: two valid IDs (a data error or
    same-named twins) and records without an ID that match either: the transitivity trap."""
    k = rng.randrange(0, len(FAMILIES), 2)
    family, given_name = FAMILIES[k : k + 2], "".join(rng.choice(GIVEN) for _ in range(2))
    birth = date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28))
    first, second = rng.sample(range(1, 999), 2)
    ids = [make_resident_id("420583", birth, n, "male") for n in (first, second)]
    base = {"family_name": family, "given_name": given_name, "birth_date": birth.isoformat(),
            "gender": "男", "phone": f"139{rng.randrange(10**8):08d}",
            "address": "湖北省宜昌市枝江市土城村2组"}  # fmt: skip
    rows = [base | {"id_number": ids[0]}, base | {"id_number": ids[1]}, base, base, base]
    return [features_from_row(row) for row in rows]


def _ids_per_person(tag: str) -> dict[int, set[str]]:
    with session_scope() as session:
        rows = session.execute(
            select(SourceRow.person_id, IdentifierRow.value_index)
            .join(IdentifierRow, IdentifierRow.source_row == SourceRow.id)
            .where(
                SourceRow.source_id.like(f"{tag}%"),
                IdentifierRow.system == RESIDENT_ID_SYSTEM,
                IdentifierRow.valid.is_(True),
            )
        ).all()
    found: dict[int, set[str]] = {}
    for person, key in rows:
        found.setdefault(person, set()).add(key)
    return found


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(range(5)),
    cuts=st.lists(st.integers(1, 4), max_size=3, unique=True),
    one_by_one=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_two_valid_ids_never_share_a_person(
    database: str, order: list[int], cuts: list[int], one_by_one: bool, seed: int
) -> None:
    records = _chain(random.Random(seed))
    tag = uuid.uuid4().hex[:12]
    items = [Registration(f"H00{1 + k % 3}", f"{tag}-{k}", None, records[k], "test")
             for k in order]  # fmt: skip
    bounds = [0, *sorted(cuts), len(items)]
    for start, end in itertools.pairwise(bounds):
        with session_scope() as session:
            cipher = get_cipher()
            if one_by_one:
                for r in items[start:end]:
                    register_source(session, cipher, facility=r.facility, source_id=r.source_id,
                                    patient_id=None, features=r.features, actor="test")  # fmt: skip
            else:
                register_sources(session, cipher, items[start:end])
    persons = _ids_per_person(tag)
    assert persons and all(len(keys) == 1 for keys in persons.values()), persons


TWINS = (
    "source_id,name,gender,birth_date,id_system,id_number,phone,address\n"
    "{tag}A1,陈凯波,男,1972-04-14,,420583197204149252,17048763745,湖北省宜昌市枝江市土城村2组\n"
    "{tag}A2,陈超阳,男,1972-04-14,,420583197204149279,17048763745,湖北省宜昌市枝江市土城村2组\n"
)


def test_the_issues_twins_stay_two_persons_in_one_file_and_across_facilities(
    database: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    one = tmp_path / "one.csv"
    one.write_text(TWINS.format(tag=tag), encoding="utf-8")
    load_csv(one, "H001")
    first, second = TWINS.format(tag=tag + "x").strip().split("\n")[1:]
    header = TWINS.split("\n")[0]
    (tmp_path / "a.csv").write_text(f"{header}\n{first}\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(f"{header}\n{second}\n", encoding="utf-8")
    load_csv(tmp_path / "a.csv", "H002")
    load_csv(tmp_path / "b.csv", "H003")
    with session_scope() as session:
        persons = dict(
            session.execute(
                select(SourceRow.source_id, SourceRow.person_id).where(
                    SourceRow.source_id.like(f"{tag}%")
                )
            ).all()
        )
    assert persons[f"{tag}A1"] != persons[f"{tag}A2"]
    assert persons[f"{tag}xA1"] != persons[f"{tag}xA2"]


def test_the_issues_twins_stay_two_persons_through_the_fhir_api(
    client_for: ClientFactory, live_hub: object
) -> None:
    persons = []
    for facility, name, resident in (("H001", ["凯波"], "420583197204149252"),
                                     ("H002", ["超阳"], "420583197204149279")):  # fmt: skip
        client = client_for(facility=facility)
        patient_id = f"twin-{uuid.uuid4().hex[:8]}"
        body = {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": resident}],
            "name": [{"family": "陈", "given": name}],
            "gender": "male",
            "birthDate": "1972-04-14",
            "telecom": [{"system": "phone", "value": "17048763745"}],
            "address": [{"text": "湖北省宜昌市枝江市土城村2组"}],
        }
        created = client.put(f"/Patient/{patient_id}", json=body)
        assert created.status_code == 201, created.text
        with session_scope() as session:
            persons.append(
                session.execute(
                    select(SourceRow.person_id).where(SourceRow.patient_id == created.json()["id"])
                ).scalar_one()
            )
    assert persons[0] != persons[1]
