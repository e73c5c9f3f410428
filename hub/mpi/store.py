"""Persistence helpers of the patient index: sealed features, keys, identifiers, golden records."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.features import MatchFeatures
from hub.mpi.golden import SourceView, golden_patient
from hub.mpi.models import BlockKeyRow, IdentifierRow, PersonRow, SourceRow
from hub.region.facilities import index_by_code, load_facilities
from hub.security.fields import FieldCipher


@lru_cache(maxsize=1)
def facility_kinds() -> dict[str, str]:
    return {code: str(f.kind) for code, f in index_by_code(load_facilities()).items()}


def seal_features(cipher: FieldCipher, features: MatchFeatures) -> str:
    return cipher.encrypt(json.dumps(features.to_json_dict(), ensure_ascii=False))


def open_features(cipher: FieldCipher, sealed: str) -> MatchFeatures:
    return MatchFeatures.from_json_dict(json.loads(cipher.decrypt(sealed)))


def content_hash(features: MatchFeatures) -> str:
    text = json.dumps(features.to_json_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def key_index(cipher: FieldCipher, key: str) -> str:
    """Blocking keys hold names, birth dates and IDs: store only their keyed hash."""
    return cipher.blind_index("block", key)[3:35]


def lock_keys(session: Session, cipher: FieldCipher, keys: list[str]) -> None:
    """Serialise registrations that share a blocking key (PostgreSQL advisory locks).

    Two facilities registering the same new person at once then see each other's record:
    the second waits for the first to commit. SQLite already serialises writers.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    lock_ids = sorted({int(key_index(cipher, k)[:15], 16) for k in keys})  # one order: no deadlock
    if lock_ids:  # one round trip; rows are locked in the array's (sorted) order
        session.execute(_LOCK_MANY, {"ids": lock_ids})


_LOCK_MANY = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:ids AS BIGINT[])) WITH ORDINALITY AS t(k, n)"
    " ORDER BY n"
)


def new_person(session: Session, now: datetime) -> PersonRow:
    person = PersonRow(
        enterprise_id="YC" + secrets.token_hex(6).upper(), status="active", golden="",
        created=now, updated=now,
    )  # fmt: skip
    session.add(person)
    session.flush()
    return person


def write_keys(
    session: Session, cipher: FieldCipher, source: SourceRow, keys: tuple[str, ...]
) -> None:
    session.execute(delete(BlockKeyRow).where(BlockKeyRow.source_row == source.id))
    hashed = sorted({key_index(cipher, k) for k in keys})
    if hashed:
        session.execute(insert(BlockKeyRow), [{"source_row": source.id, "key": k} for k in hashed])


def identifier_entries(source: SourceRow, features: MatchFeatures) -> list[tuple[str, str, bool]]:
    entries = [(facility_patient_system(source.facility), source.source_id, True)]
    if features.resident_id:
        entries.append((RESIDENT_ID_SYSTEM, features.resident_id, True))
    if features.resident_id_raw:
        entries.append((RESIDENT_ID_SYSTEM, features.resident_id_raw, False))
    if features.insurance_number:
        entries.append((INSURANCE_PERSON_SYSTEM, features.insurance_number, True))
    entries += [(system, value, True) for system, value in features.local_ids]
    return list(dict.fromkeys(entries))


def identifier_index(cipher: FieldCipher, system: str, value: str) -> str:
    return cipher.blind_index("xref", f"{system}|{value.strip().upper()}")[3:43]


def write_identifiers(
    session: Session, cipher: FieldCipher, source: SourceRow, features: MatchFeatures
) -> None:
    session.execute(delete(IdentifierRow).where(IdentifierRow.source_row == source.id))
    rows = [
        {"source_row": source.id, "person_id": source.person_id, "system": system[:255],
         "value_index": identifier_index(cipher, system, value),
         "value": cipher.encrypt(value), "valid": valid}
        for system, value, valid in identifier_entries(source, features)
    ]  # fmt: skip
    if rows:
        session.execute(insert(IdentifierRow), rows)


def refresh_golden(session: Session, cipher: FieldCipher, person: PersonRow) -> dict[str, object]:
    sources = (
        session.execute(select(SourceRow).where(SourceRow.person_id == person.id)).scalars().all()
    )
    kinds = facility_kinds()
    views = [
        SourceView(s.facility, kinds.get(s.facility), s.source_id, s.updated,
                   open_features(cipher, s.features))
        for s in sources
    ]  # fmt: skip
    golden = golden_patient(person.enterprise_id, views)
    person.golden = cipher.encrypt(json.dumps(golden, ensure_ascii=False))
    person.updated = datetime.now(UTC)
    if not sources and person.status == "active":
        person.status = "retired"
    return golden


def read_golden(cipher: FieldCipher, person: PersonRow) -> dict[str, object]:
    if not person.golden:
        return {"resourceType": "Patient", "id": person.enterprise_id}
    data: dict[str, object] = json.loads(cipher.decrypt(person.golden))
    return data
