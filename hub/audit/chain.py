"""What an audit record's hash covers, and how it is computed (pure: no I/O).

Two hash schemes, stored per record in ``audit_log.hash_scheme``:

- ``SHA256`` (0): records written before migration 0009, ``sha256(prev | row)``. Anyone with
  the database can recompute it, so it is accepted only up to the signed legacy boundary (see
  :mod:`hub.audit.checkpoints`) and never after it.
- ``HMAC_SHA256`` (1): ``HMAC-SHA256(key, "hub-audit/1" | prev | row + patient index)``, the key
  from ``HUB_AUDIT_HMAC_KEY`` (never in the database). The *patient index* is the sorted set of
  the record's ``audit_patient`` rows, so adding, removing or changing one breaks the record.

The consent fields (``decision`` ... ``denied``, migration 0008) enter the hashed row only when
set, so records written before them hash, and verify, exactly as they did; so does the acting
``practitioner`` (migration 0011).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from enum import IntEnum

from hub.audit.models import AuditRecord

CONSENT_COLUMNS = ("decision", "consents", "break_glass", "break_glass_reason", "denied")
# Columns that enter the hashed row only when set, so rows written before them verify unchanged.
OPTIONAL_COLUMNS = (*CONSENT_COLUMNS, "practitioner")  # practitioner: migration 0011
HASHED_COLUMNS = (
    "seq",
    "recorded",
    "client_id",
    "facility",
    "role",
    "purpose_of_use",
    "action",
    "interaction",
    "resource_type",
    "resources",
    "patients",
    "outcome",
    "outcome_text",
    "source_address",
    "query_params",
    *OPTIONAL_COLUMNS,
)
_KEYED_PREFIX = b"hub-audit/1|"


class HashScheme(IntEnum):
    SHA256 = 0  # unkeyed, before migration 0009
    HMAC_SHA256 = 1  # keyed, covers the patient index


class UnknownHashScheme(ValueError):
    """A record names a hash scheme this hub does not know."""


@dataclass(frozen=True)
class ChainProblem:
    """A break found by verification: the first record concerned, and what is wrong."""

    seq: int
    reason: str


def canonical(row: dict[str, object]) -> bytes:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode()


def row_hash(prev_hash: str, row: dict[str, object]) -> str:
    """The unkeyed hash of records written before migration 0009 (``HashScheme.SHA256``)."""
    return hashlib.sha256(prev_hash.encode() + b"|" + canonical(row)).hexdigest()


def keyed_row_hash(
    key: bytes, prev_hash: str, row: dict[str, object], patient_ids: Iterable[str]
) -> str:
    """The keyed hash (``HashScheme.HMAC_SHA256``) of ``row`` and its patient index."""
    content = dict(row, patient_index=sorted(set(patient_ids)))
    message = _KEYED_PREFIX + prev_hash.encode() + b"|" + canonical(content)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def hashed_row(row: dict[str, object]) -> dict[str, object]:
    """What the hash covers: the optional columns only when set (older rows have them unset)."""
    return {
        k: v
        for k, v in row.items()
        if k in HASHED_COLUMNS and not (k in OPTIONAL_COLUMNS and v in (None, False))
    }


def record_row(rec: AuditRecord) -> dict[str, object]:
    """A stored record's hashed row, as it was hashed when written."""
    row = {c: getattr(rec, c) for c in HASHED_COLUMNS}
    row["recorded"] = rec.recorded.astimezone(UTC).isoformat()
    return hashed_row(row)


def record_hash(rec: AuditRecord, patient_ids: Iterable[str], *, key: bytes) -> str:
    """Recompute a stored record's hash under its own scheme, from its ``prev_hash``."""
    prev = rec.prev_hash or ""  # an unlinked record matches no hash
    if rec.hash_scheme == HashScheme.SHA256:
        return row_hash(prev, record_row(rec))
    if rec.hash_scheme == HashScheme.HMAC_SHA256:
        return keyed_row_hash(key, prev, record_row(rec), patient_ids)
    raise UnknownHashScheme(f"unknown hash scheme {rec.hash_scheme}")


def anchor_attestation(anchor_seq: int, anchor_hash: str) -> str:
    """The outcome text of the prune record that moved the chain's anchor here."""
    return f"pruned up to record {anchor_seq}; chain anchor {anchor_hash}"
