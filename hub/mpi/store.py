"""Persistence helpers of the patient index: sealed features, keys, identifiers, golden records."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.feature_cache import open_features as open_features
from hub.mpi.feature_cache import process_cache
from hub.mpi.matching.features import MatchFeatures
from hub.mpi.matching.golden import SourceView, golden_patient
from hub.mpi.models import BlockKeyRow, IdentifierRow, PersonRow, SourceRow
from hub.region.facilities import index_by_code, load_facilities
from hub.security.fields import FieldCipher


@lru_cache(maxsize=1)
def facility_kinds() -> dict[str, str]:
    return {code: str(f.kind) for code, f in index_by_code(load_facilities()).items()}


def seal_features(cipher: FieldCipher, features: MatchFeatures) -> str:
    return cipher.encrypt(json.dumps(features.to_json_dict(), ensure_ascii=False))


def content_hash(features: MatchFeatures) -> str:
    text = json.dumps(features.to_json_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def key_index(cipher: FieldCipher, key: str) -> str:
    """Blocking keys hold names, birth dates and IDs: store only their keyed hash."""
    return cipher.blind_index("block", key)[3:35]


def hashed_keys(cipher: FieldCipher, keys: Iterable[str]) -> list[str]:
    """The keyed hashes of ``keys``, sorted, without repeats."""
    return sorted({key_index(cipher, k) for k in keys})


def lock_keys(session: Session, cipher: FieldCipher, keys: list[str]) -> None:
    """Serialise registrations that share a blocking key (PostgreSQL advisory locks).

    Two facilities registering the same new person at once then see each other's record:
    the second waits for the first to commit. SQLite already serialises writers.
    """
    lock_hashed(session, hashed_keys(cipher, keys))


def lock_hashed(session: Session, hashed: Iterable[str]) -> None:
    """Take the advisory locks of already hashed keys, all in one statement and one order.

    Every registration first takes the index-wide lock ``INDEX_LOCK``: shared when it locks
    its keys one by one, exclusive when it has more than ``MAX_KEY_LOCKS`` keys (a large batch:
    PostgreSQL's shared lock table holds max_locks_per_transaction x max_connections entries,
    6,400 by default). Locks are taken in one sorted order, so batches never deadlock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    lock_ids = sorted({int(h[:15], 16) for h in hashed})
    if len(lock_ids) > MAX_KEY_LOCKS:
        session.execute(_LOCK_INDEX)
    elif lock_ids:  # one round trip; rows are locked in the array's (sorted) order
        session.execute(_LOCK_MANY, {"ids": [INDEX_LOCK, *lock_ids]})


MAX_KEY_LOCKS = 2_000
INDEX_LOCK = -0x4D5049  # outside the key locks' range (they are non-negative, below 2**60)
_LOCK_INDEX = text(f"SELECT pg_advisory_xact_lock({INDEX_LOCK})")
_LOCK_MANY = text(
    f"SELECT CASE WHEN k = {INDEX_LOCK} THEN pg_advisory_xact_lock_shared(k) "
    "ELSE pg_advisory_xact_lock(k) END "
    "FROM unnest(CAST(:ids AS BIGINT[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
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
    session: Session,
    cipher: FieldCipher,
    source: SourceRow,
    keys: tuple[str, ...],
    *,
    replace: bool = True,
) -> None:
    """Store the source's keys (``replace=False``: a new source, there are none to delete)."""
    if replace:
        session.execute(delete(BlockKeyRow).where(BlockKeyRow.source_row == source.id))
    hashed = hashed_keys(cipher, keys)
    if hashed:
        session.execute(insert(BlockKeyRow), [{"source_row": source.id, "key": k} for k in hashed])


def identifier_entries(source: SourceRow, features: MatchFeatures) -> list[tuple[str, str, bool]]:
    return source_identifiers(source.facility, source.source_id, features)


def source_identifiers(
    facility: str, source_id: str, features: MatchFeatures
) -> list[tuple[str, str, bool]]:
    """(system, value, valid) of every identifier a source record is cross-referenced by."""
    entries = [(facility_patient_system(facility), source_id, True)]
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


def identifier_rows(
    cipher: FieldCipher,
    source_row: int,
    person_id: int,
    entries: Sequence[tuple[str, str, bool]],
) -> list[dict[str, object]]:
    return [
        {"source_row": source_row, "person_id": person_id, "system": system[:255],
         "value_index": identifier_index(cipher, system, value),
         "value": cipher.encrypt(value), "valid": valid}
        for system, value, valid in entries
    ]  # fmt: skip


def write_identifiers(
    session: Session,
    cipher: FieldCipher,
    source: SourceRow,
    features: MatchFeatures,
    *,
    replace: bool = True,
) -> None:
    """Store the source's identifiers (``replace=False``: a new source, none to delete)."""
    if replace:
        session.execute(delete(IdentifierRow).where(IdentifierRow.source_row == source.id))
    entries = identifier_entries(source, features)
    rows = identifier_rows(cipher, source.id, source.person_id, entries)
    if rows:
        session.execute(insert(IdentifierRow), rows)


def source_view(cipher: FieldCipher, source: SourceRow) -> SourceView:
    features = process_cache().open(cipher, source.id, source.features)
    return SourceView(source.facility, facility_kinds().get(source.facility), source.source_id,
                      source.updated, features)  # fmt: skip


def seal_golden(cipher: FieldCipher, enterprise_id: str, views: list[SourceView]) -> str:
    """The person's golden Patient (survivorship over ``views``), sealed."""
    return cipher.encrypt(json.dumps(golden_patient(enterprise_id, views), ensure_ascii=False))


def refresh_golden(
    session: Session,
    cipher: FieldCipher,
    person: PersonRow,
    *,
    only: SourceRow | None = None,
) -> None:
    """Recompute the golden record from the person's sources (``only``: a new person's one
    source, known to the caller, so no query)."""
    if only is not None:
        sources: Sequence[SourceRow] = [only]
    else:
        query = select(SourceRow).where(SourceRow.person_id == person.id)
        sources = session.execute(query).scalars().all()
    views = [source_view(cipher, s) for s in sources]
    person.golden = seal_golden(cipher, person.enterprise_id, views)
    person.updated = datetime.now(UTC)
    if not sources and person.status == "active":
        person.status = "retired"


def read_golden(cipher: FieldCipher, person: PersonRow) -> dict[str, object]:
    if not person.golden:
        return {"resourceType": "Patient", "id": person.enterprise_id}
    data: dict[str, object] = json.loads(cipher.decrypt(person.golden))
    return data
