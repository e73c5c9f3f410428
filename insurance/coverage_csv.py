"""The bulk Coverage file (``hub insurance load-coverage FILE.csv``), parsed row by row. Pure.

Header ``patient_id,insured_id,scheme,region,status,account_balance``: the hub's Patient id,
the insured person's number (the Coverage id is derived from it, so a re-run finds what it
loaded), ``UEBMI``/``URRBMI`` (or insutype ``310``/``390``), the insured region code, the
Coverage status (``active`` when empty) and the personal-account balance in yuan. Row numbers
count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from insurance.money import to_fen
from insurance.policy import Scheme
from insurance.resources import SCHEME_OF, coverage_resource

COVERAGE_COLUMNS = ("patient_id", "insured_id", "scheme", "region", "status", "account_balance")
STATUSES = frozenset({"active", "cancelled", "draft", "entered-in-error"})
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_REGION = re.compile(r"\d{6}")


@dataclass(frozen=True)
class CoverageRow:
    row: int
    patient_id: str
    coverage: dict[str, Any]  # the Coverage resource, its id derived from insured_id


@dataclass(frozen=True)
class RefusedRow:
    row: int
    reason: str


def coverage_id(insured_id: str) -> str:
    return f"cov-{insured_id}"


def _scheme(text: str) -> Scheme:
    if text in SCHEME_OF:
        return SCHEME_OF[text]
    return Scheme(text.upper())


def _coverage(row: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(patient id, Coverage) from one row; ValueError naming the column."""
    patient, insured = row["patient_id"].strip(), row["insured_id"].strip()
    if not _FHIR_ID.fullmatch(patient):
        raise ValueError(f"patient_id {patient!r} is not a FHIR id")
    if not _FHIR_ID.fullmatch(coverage_id(insured)):
        raise ValueError(f"insured_id {insured!r}: letters, digits, '-' and '.', up to 60")
    try:
        scheme = _scheme(row["scheme"].strip())
    except ValueError:
        raise ValueError(f"scheme {row['scheme']!r}: UEBMI, URRBMI, 310 or 390") from None
    region = row["region"].strip()
    if not _REGION.fullmatch(region):
        raise ValueError(f"region {region!r} is not a six-digit region code")
    status = row["status"].strip() or "active"
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: one of {', '.join(sorted(STATUSES))}")
    try:
        balance = to_fen(row["account_balance"].strip() or "0")
    except ValueError as exc:
        raise ValueError(f"account_balance: {exc}") from None
    if balance < 0:
        raise ValueError("account_balance is negative")
    coverage = coverage_resource(patient, scheme, region, balance, insured)
    return patient, dict(coverage, id=coverage_id(insured), status=status)


def parse_coverage_csv(lines: Iterable[str]) -> Iterator[CoverageRow | RefusedRow]:
    """Each data row as a Coverage or as the reason it is refused (a missing header column
    refuses row 1 and ends the file)."""
    reader = csv.DictReader(lines)
    missing = [c for c in COVERAGE_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        yield RefusedRow(1, f"the header lacks {', '.join(missing)}")
        return
    seen: set[str] = set()
    for number, row in enumerate(reader, start=2):
        if None in row.values() or None in row:
            yield RefusedRow(number, "wrong number of columns")
            continue
        try:
            patient, coverage = _coverage(row)
        except ValueError as exc:
            yield RefusedRow(number, str(exc))
            continue
        if coverage["id"] in seen:
            yield RefusedRow(number, f"insured_id {row['insured_id']!r} is listed twice")
            continue
        seen.add(coverage["id"])
        yield CoverageRow(number, patient, coverage)
