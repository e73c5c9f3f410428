"""Checking a bulk-load CSV file whole before anything is written (``hub.mpi.loading.bulk``).

UTF-8 (a byte-order mark is fine; a GB18030/GBK or UTF-16 file is refused with a hint to
re-encode it), a header with ``source_id`` and no unknown column, a facility code the region
registry knows, and every ``id_system`` empty, known or a system URI. :class:`BulkLoadError`
says why a file is refused.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.errors import HubError
from hub.fhir.systems import INSURANCE_PERSON_SYSTEM, RESIDENT_ID_SYSTEM
from hub.mpi.loading.csv_patient import CSV_COLUMNS
from hub.region.facilities import index_by_code, load_facilities


class BulkLoadError(HubError):
    """The file cannot be loaded at all; nothing was written."""


@dataclass(frozen=True)
class CsvCheck:
    columns: tuple[str, ...]  # normalised header (stripped, lower case)
    rows: int


def inspect_csv(path: Path, facility: str) -> CsvCheck:
    """Check everything that can fail for the whole file; raise BulkLoadError, write nothing."""
    if facility not in index_by_code(load_facilities()):
        raise BulkLoadError(
            f"unknown facility code {facility[:32]!r}: `hub facilities list` shows the codes"
        )
    if not path.is_file():
        raise BulkLoadError(f"{path} is not a file")
    found = records(path)
    header = next(found, None)
    if header is None:
        raise BulkLoadError(f"{path.name} is empty: it needs a header row with source_id")
    columns = _check_header(header[1])
    at = columns.index("id_system") if "id_system" in columns else None
    rows = 0
    for number, fields in found:
        rows += 1
        if at is not None and at < len(fields):
            _check_id_system(number, fields[at].strip())
    return CsvCheck(columns, rows)


KNOWN_ID_SYSTEMS = (RESIDENT_ID_SYSTEM, INSURANCE_PERSON_SYSTEM)


def _check_id_system(row: int, system: str) -> None:
    """Empty (a resident ID), a known system or an absolute URI; anything else would be kept as
    some other identifier and never matched as what the facility meant."""
    if not system or system in KNOWN_ID_SYSTEMS:
        return
    scheme, colon, rest = system.partition(":")
    uri = scheme.isascii() and scheme.isalpha() and (rest.startswith("//") or scheme == "urn")
    if colon and uri:
        return
    raise BulkLoadError(
        f"row {row}: id_system {system[:60]!r} is not a system URI; leave it empty for a "
        f"resident ID (居民身份证号码), or give {INSURANCE_PERSON_SYSTEM} for a medical-insurance "
        "number, or the full URI (https://..., urn:oid:...) of another identifier system"
    )


def _check_header(raw: list[str]) -> tuple[str, ...]:
    columns = tuple(name.strip().lower() for name in raw)
    if "" in columns:
        raise BulkLoadError(f"header column {columns.index('') + 1} has no name")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise BulkLoadError(f"header repeats column(s): {', '.join(repeated)}")
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        raise BulkLoadError(
            f"unknown column(s) {', '.join(repr(c[:40]) for c in unknown)}; "
            f"the columns are: {', '.join(CSV_COLUMNS)}"
        )
    if "source_id" not in columns:
        raise BulkLoadError("the header has no source_id column (the facility's patient number)")
    return columns


def records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) of each non-blank CSV record; encoding and CSV errors as
    BulkLoadError."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        line = 0
        try:
            for fields in reader:
                start, line = line + 1, reader.line_num
                if fields:
                    yield start, fields
        except UnicodeDecodeError:
            raise BulkLoadError(_encoding_problem(path)) from None
        except csv.Error as exc:
            raise BulkLoadError(f"row {reader.line_num}: not readable as CSV ({exc})") from None


def _encoding_problem(path: Path) -> str:
    """Where the file stops being UTF-8, and what it probably is instead."""
    utf8, gb = codecs.getincrementaldecoder("utf-8")(), codecs.getincrementaldecoder("gb18030")()
    line, where, gb_ok = 1, None, True
    with path.open("rb") as handle:
        head = handle.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            return f"{path.name} is UTF-16; save it as UTF-8 (CSV UTF-8 in Excel) and load it again"
        handle.seek(0)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            if where is None:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError as exc:
                    where = line + chunk[: max(exc.start, 0)].count(b"\n")
                line += chunk.count(b"\n")
            if gb_ok:
                try:
                    gb.decode(chunk)
                except UnicodeDecodeError:
                    gb_ok = False
    problem = f"{path.name} is not UTF-8 (first bad byte on row {where or '?'})"
    if gb_ok:
        return (
            f"{problem}; it looks like GB18030/GBK: re-encode it as UTF-8 "
            f"(iconv -f GB18030 -t UTF-8 {path.name} > utf8.csv, or save as CSV UTF-8 in Excel)"
        )
    return f"{problem}; save it as UTF-8 and load it again"
