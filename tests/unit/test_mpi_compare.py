"""Comparison vectors and blocking keys of record pairs."""

from __future__ import annotations

from datetime import date

from hub.mpi.batch import link_batch
from hub.mpi.compare import SPECS, compare, query_keys, record_keys
from hub.mpi.features import features_from_row
from hub.mpi.identifiers import make_resident_id
from hub.mpi.model_registry import packaged_model

A_ID = make_resident_id("420502", date(1980, 3, 2), 120, "male")
B_ID = make_resident_id("420502", date(1980, 3, 2), 122, "male")  # a twin


def row(**values: str) -> dict[str, str]:
    base = {
        "source_id": "x",
        "name": "张伟",
        "gender": "M",
        "birth_date": "1980-03-02",
        "id_number": A_ID,
        "phone": "13800000000",
        "address": "宜昌市西陵区西陵街道学院社区3号",
    }
    base.update(values)
    return base


def vector(a: dict[str, str], b: dict[str, str]) -> dict[str, int]:
    levels = compare(features_from_row(a), features_from_row(b))
    return {spec.name: level for spec, level in zip(SPECS, levels, strict=True)}


def test_identical_records_agree_exactly() -> None:
    v = vector(row(), row())
    assert v["resident_id"] == 3 and v["family_name"] == 4 and v["given_name"] == 4
    assert v["birth_date"] == 3 and v["phone"] == 1 and v["address"] == 3
    assert v["insurance_number"] == -1  # missing on both sides: neutral


def test_two_valid_ids_are_strong_disagreement_and_typo_is_near() -> None:
    assert vector(row(), row(id_number=B_ID))["resident_id"] == 0
    typo = A_ID[:5] + str((int(A_ID[5]) + 1) % 10) + A_ID[6:]
    assert vector(row(), row(id_number=typo))["resident_id"] == 2


def test_homophone_and_date_swap_are_near_agreements() -> None:
    v = vector(row(), row(name="章伟", birth_date="1980-02-03"))
    assert v["family_name"] == 3 and v["birth_date"] == 2


def test_keys_never_block_on_surname_alone() -> None:
    keys = record_keys(features_from_row(row(id_number="", phone="")))
    assert keys and all(k.count("|") == 1 or k.startswith(("id:", "ib:", "ph:")) for k in keys)
    # A surname is only ever part of a key together with a birth date or given name.
    assert all(not k.startswith(("fd:", "fi:")) or "|" in k for k in keys)
    assert "fp:zhang" not in keys and "fd:zhang" not in keys
    swapped = query_keys(features_from_row(row(birth_date="1980-02-03")))
    assert any(k.endswith("|19800302") for k in swapped)


def test_batch_links_desk_errors_but_not_twins() -> None:
    records = [
        row(),
        row(name="章伟", id_number=""),
        row(name="ZHANG WEI", birth_date="19800302"),
        row(name="张勇", id_number=B_ID),  # twin brother: same household, own valid ID
        row(name="李娜", gender="F", birth_date="1990-01-01", id_number="", phone="13900000000"),
    ]
    features = [features_from_row(r) for r in records]
    result = link_batch(features, packaged_model())
    clusters = result.clusters
    assert clusters[0] == clusters[1] == clusters[2]
    assert clusters[3] != clusters[0]
    assert clusters[4] not in (clusters[0], clusters[3])
