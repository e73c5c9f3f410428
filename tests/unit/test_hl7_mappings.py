"""HL7 v2 -> FHIR mappings: the shared corpus, Yichang messages, and bad input."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.hl7v2.charset import decode_message
from adapters.hl7v2.errors import ErrorCode, Hl7ContentError, Hl7Error, Hl7Reject
from adapters.hl7v2.mappings import (
    SUPPORTED_EVENTS,
    IndexOperation,
    Mapped,
    MappingContext,
    map_message,
    patient_entry,
)
from adapters.hl7v2.parse import Message, parse_message, split_messages
from hub.fhir.systems import (
    INSURANCE_PERSON_SYSTEM,
    RESIDENT_ID_SYSTEM,
    facility_identifier_system,
    facility_patient_system,
)
from hub.fhir.validation import validate_resource
from hub.mpi.matching.features import features_from_patient
from tests import hl7v2_cases as cases
from tests.corpus import HL7_CORPUS

CORPUS = HL7_CORPUS
FACILITY = cases.FACILITY
CONTEXT = MappingContext(FACILITY, datetime(2024, 3, 15, 1, 0, tzinfo=UTC), "inbox-42")

# Corpus messages whose content is wrong on purpose or by accident: the AE location expected.
EXPECTED_CONTENT_ERRORS = {
    ("microsoft_FHIR-Converter/ORU-R01-01.hl7", 0): "OBX",  # OBX before any OBR
    ("eerohele_pipehat/sample-v2.3-oru-r01-3.hl7", 0): "PID-7",  # "01/10/1948"
    ("eerohele_pipehat/sample-v2.3.1-oru-r01-1.hl7", 0): "PID-3",  # no identifier at all
    ("eerohele_pipehat/sample-v2.4-oru-r01-2.hl7", 0): "PID-7",  # month 35
    ("eerohele_pipehat/sample-v2.5.1-oru-r01-1.hl7", 0): "OBR-7",  # 16 digits
    ("eerohele_pipehat/sample-v2.8-oru-r01-1.hl7", 0): "PID-7",
    ("johnpaulett_python-hl7/samples_L0003_sample_hl7.hl7", 0): "PID-7",
    ("crs4_hl7apy/test_parser_L0110_msh.hl7", 0): "PID",  # MSH and EVN only
    ("crs4_hl7apy/test_parser_L0208_m.hl7", 0): "PID",
    ("rethinkhealth_hl7v2/qa__fixtures__edge-empty-segments.hl7", 0): "PID-3",
    ("microsoft_FHIR-Converter/MDM-T02-01.hl7", 0): "OBX-5",  # an ED with no data: no content
    ("microsoft_FHIR-Converter/MDM-T10-01.hl7", 0): "OBX-5",
}


# Corpus messages the parser must refuse, with the error code it gives and why they are bad.
# Every other message of the corpus must parse: a parser regression fails
# test_the_corpus_parses_except_the_known_bad_messages instead of shrinking the set below.
_NO_MSH = "a batch/file envelope (FHS/BHS) or bare segments, with no MSH to start a message"
_BAD_DELIMITERS = "MSH-2 holds no encoding characters"
KNOWN_BAD: dict[tuple[str, int], tuple[ErrorCode, str]] = {
    ("eerohele_pipehat/sample-v2.5.1-rsp-k11-1.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, "an RXA segment wrapped onto a second line: '999|||00^..'"),
    ("johnpaulett_python-hl7/samples_L0102_sample_bad_batch.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, _NO_MSH),
    ("johnpaulett_python-hl7/samples_L0257_sample_bad_file.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, _NO_MSH),
    ("johnpaulett_python-hl7/samples_L0306_sample_bad_file3.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, _NO_MSH),
    ("rethinkhealth_hl7v2/qa__fixtures__invalid-missing-msh.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, _NO_MSH),
    ("rethinkhealth_hl7v2/qa__fixtures__invalid-segment-header-length.hl7", 0): (
        ErrorCode.SEGMENT_SEQUENCE, "segment names 'PIDX' and 'PV' are not three characters"),
    ("johnpaulett_python-hl7/test_accessor_L0031.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "an MSH of two fields: no MSH-9 message type"),
    ("johnpaulett_python-hl7/test_construction_L0019.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "an MSH of two fields: no MSH-9 message type"),
    ("johnpaulett_python-hl7/test_construction_L0048.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "an MSH of two fields: no MSH-9 message type"),
    ("johnpaulett_python-hl7/test_client_L0062.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "an MSH cut off after MSH-4"),
    ("crs4_hl7apy/test_parser_L0211_m.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "MSH-9 empty"),
    ("crs4_hl7apy/test_to_string_L0114.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "MSH-9 empty"),
    ("johnpaulett_python-hl7/test_accessor_L0041.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "MSH-10 (control id) empty"),
    ("crs4_hl7apy/test_parser_L0235.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "cut off after MSH-9: no MSH-10"),
    ("crs4_hl7apy/test_parser_L0238.hl7", 0): (
        ErrorCode.REQUIRED_FIELD_MISSING, "cut off after MSH-9: no MSH-10"),
    ("crs4_hl7apy/test_core_L1177.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0184_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0187_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0192_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0200_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0203_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0215_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
    ("crs4_hl7apy/test_parser_L0218_m.hl7", 0): (ErrorCode.DATA_TYPE, _BAD_DELIMITERS),
}  # fmt: skip
# The corpus as INDEX.tsv lists it: files, and the messages they hold once split.
CORPUS_FILES, CORPUS_MESSAGES, CORPUS_SUPPORTED = 246, 251, 127  # A06, A07, A14: two each


@dataclass(frozen=True)
class CorpusItem:
    name: str  # the file, relative to the corpus
    index: int  # the message's place in its file
    text: str
    charset: str


def _corpus_files() -> list[str]:
    return [line.split("\t", 1)[0] for line in (CORPUS / "INDEX.tsv").read_text().splitlines()[1:]]


def _corpus_items() -> list[CorpusItem]:
    """Every message of every corpus file; a file that does not decode fails here, loudly."""
    items = []
    for name in _corpus_files():
        text, charset = decode_message((CORPUS / name).read_bytes())
        items += [CorpusItem(name, i, t, charset) for i, t in enumerate(split_messages(text))]
    return items


CORPUS_ITEMS = _corpus_items() if CORPUS.is_dir() else []


def _parsed(item: CorpusItem) -> Message | None:
    """The message, or None for a known-bad one (asserted refused elsewhere)."""
    if (item.name, item.index) in KNOWN_BAD:
        return None
    return parse_message(item.text, item.charset)


def _corpus_params() -> list[Any]:
    if not CORPUS_ITEMS:
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip("/work/shared absent"))]
    params = []
    for item in CORPUS_ITEMS:
        try:
            message = _parsed(item)
        except Hl7Error:  # unexpected refusals fail the census test below, by name
            continue
        if (
            message is not None
            and (message.message_code, message.trigger_event) in SUPPORTED_EVENTS
        ):
            params.append(
                pytest.param((item.name, item.index, message), id=f"{item.name}#{item.index}")
            )
    return params


def _known_bad_params() -> list[Any]:
    if not CORPUS_ITEMS:
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip("/work/shared absent"))]
    by_key = {(i.name, i.index): i for i in CORPUS_ITEMS}
    return [pytest.param(by_key.get(key, key), KNOWN_BAD[key][0], id=f"{key[0]}#{key[1]}")
            for key in sorted(KNOWN_BAD)]  # fmt: skip


def check_bundle(mapped: Mapped) -> dict[str, dict[str, Any]]:
    """Assert a well-formed transaction of valid resources; the resources by full URL."""
    bundle = mapped.bundle
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    by_url: dict[str, dict[str, Any]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert entry["fullUrl"] not in by_url
        assert entry["request"]["method"] in ("PUT", "POST")
        assert entry["request"]["url"].startswith(resource["resourceType"])
        assert resource["meta"]["source"] == "hl7v2:420502001/inbox-42"
        validate_resource(resource["resourceType"], resource)
        by_url[entry["fullUrl"]] = resource
    for reference in _references(bundle["entry"]):
        if reference.startswith("urn:"):
            assert reference in by_url, f"unresolved {reference}"
    assert set(mapped.resource_types) == {r["resourceType"] for r in by_url.values()}
    return by_url


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def of_type(mapped: Mapped, resource_type: str) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in mapped.bundle["entry"]
        if e["resource"]["resourceType"] == resource_type
    ]


def map_raw(raw: bytes) -> Mapped:
    return map_message(cases.parse(raw), CONTEXT)


# -- the shared corpus ------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason="/work/shared absent")
def test_the_corpus_parses_except_the_known_bad_messages() -> None:
    assert len(_corpus_files()) == CORPUS_FILES
    assert len(CORPUS_ITEMS) == CORPUS_MESSAGES
    refused: dict[tuple[str, int], str] = {}
    supported = 0
    for item in CORPUS_ITEMS:
        try:
            message = parse_message(item.text, item.charset)
        except Hl7Error as exc:
            refused[(item.name, item.index)] = f"{exc.code.value} {exc.text}"
            continue
        supported += (message.message_code, message.trigger_event) in SUPPORTED_EVENTS
    unexpected = {key: why for key, why in refused.items() if key not in KNOWN_BAD}
    assert unexpected == {}, "messages that parsed before are refused now"
    assert set(refused) == set(KNOWN_BAD), "known-bad messages that parse now"
    assert supported == CORPUS_SUPPORTED
    assert len(_corpus_params()) == CORPUS_SUPPORTED  # every one of them is mapped below


@pytest.mark.parametrize(("item", "code"), _known_bad_params())
def test_a_known_bad_corpus_message_is_refused(item: CorpusItem, code: ErrorCode) -> None:
    assert isinstance(item, CorpusItem), f"{item} is not in the corpus any more"
    with pytest.raises(Hl7Reject) as caught:
        parse_message(item.text, item.charset)
    assert caught.value.code == code, caught.value.text


@pytest.mark.parametrize("item", _corpus_params())
def test_corpus_message_maps_to_a_valid_transaction(item: tuple[str, int, Message]) -> None:
    name, index, message = item
    expected = EXPECTED_CONTENT_ERRORS.get((name, index))
    if expected is not None:
        with pytest.raises(Hl7ContentError) as caught:
            map_message(message, CONTEXT)
        assert caught.value.location == expected
        return
    mapped = map_message(message, CONTEXT)
    check_bundle(mapped)
    assert map_message(message, CONTEXT).bundle == mapped.bundle  # deterministic


def _corpus(name: str) -> Message:
    if not CORPUS.is_dir():
        pytest.skip("/work/shared absent")
    text, charset = decode_message((CORPUS / name).read_bytes())
    return parse_message(split_messages(text)[0], charset)


def test_corpus_adt_a01_patient_and_encounter() -> None:
    mapped = map_message(_corpus("microsoft_FHIR-Converter/ADT-A01-02.hl7"), CONTEXT)
    (patient,) = of_type(mapped, "Patient")
    assert patient["name"][0]["family"] == "EVERYMAN"
    assert patient["name"][0]["given"][0] == "ADAM"
    assert patient["identifier"][0] == {
        "system": facility_patient_system(FACILITY),
        "value": "PATID1234",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
        },
        "assigner": {"display": "test1"},
    }
    assert patient["gender"] == "male" and patient["birthDate"] == "1988-08-18"
    (encounter,) = of_type(mapped, "Encounter")
    assert encounter["status"] == "in-progress"
    assert encounter["identifier"][0]["value"] == "40007716"
    assert encounter["period"]["start"] == "2015-02-08T11:34:19+01:10"


def test_corpus_oru_results_linked_to_reports() -> None:
    mapped = map_message(_corpus("microsoft_FHIR-Converter/LAB-ORU-1.hl7"), CONTEXT)
    by_url = check_bundle(mapped)
    reports = of_type(mapped, "DiagnosticReport")
    assert [r["identifier"][0]["value"] for r in reports] == ["82503246", "890775544"]
    first = [by_url[ref["reference"]] for ref in reports[0]["result"]]
    assert first[1]["valueQuantity"]["value"] == 4.06
    assert first[1]["code"]["coding"][0] == {
        "system": "http://loinc.org", "code": "11273-0", "display": "ERYTHROCYTES"
    }  # fmt: skip


def test_corpus_merge_links_retired_patient() -> None:
    mapped = map_message(_corpus("microsoft_FHIR-Converter/ADT-A40-01.hl7"), CONTEXT)
    survivor, retired = of_type(mapped, "Patient")
    entries = mapped.bundle["entry"]
    assert retired["active"] is False
    assert retired["identifier"][0]["value"] == "56789"
    assert retired["link"] == [{"other": {"reference": entries[0]["fullUrl"]},
                                "type": "replaced-by"}]  # fmt: skip
    assert survivor["link"][0]["type"] == "replaces"


# -- Yichang messages -------------------------------------------------------------------------


@pytest.mark.parametrize("charset", [cases.UTF8, cases.GB18030])
def test_chinese_registration_in_both_charsets(charset: str) -> None:
    raw = cases.adt_a04(charset)
    assert ("小明".encode("gb18030") in raw) == (charset == cases.GB18030)
    mapped = map_raw(raw)
    check_bundle(mapped)
    (patient,) = of_type(mapped, "Patient")
    assert patient["name"] == [{"family": "王", "given": ["小明"], "text": "王小明"}]
    systems = {i["system"]: i["value"] for i in patient["identifier"]}
    assert systems == {
        facility_patient_system(FACILITY): "MR0001",
        RESIDENT_ID_SYSTEM: cases.RESIDENT_ID,
        INSURANCE_PERSON_SYSTEM: cases.INSURANCE_NUMBER,
    }
    (address,) = patient["address"]
    assert address["district"] == "西陵区"
    assert address["text"] == "湖北省宜昌市西陵区" + cases.ADDRESS_LINE
    assert patient["telecom"][0] == {"system": "phone", "value": "13907170000", "use": "mobile"}
    assert patient["contact"][0]["name"]["text"] == "王大明"
    (encounter,) = of_type(mapped, "Encounter")
    assert encounter["status"] == "arrived" and encounter["class"]["code"] == "AMB"
    (coverage,) = of_type(mapped, "Coverage")
    assert coverage["subscriberId"] == cases.INSURANCE_NUMBER
    assert coverage["payor"] == [{"display": "宜昌市医疗保障局"}]


def test_patient_has_the_shapes_the_index_reads() -> None:
    (patient,) = of_type(map_raw(cases.adt_a04()), "Patient")
    features = features_from_patient(patient)
    assert features.resident_id == cases.RESIDENT_ID
    assert features.insurance_number == cases.INSURANCE_NUMBER
    assert (facility_patient_system(FACILITY), "MR0001") in features.local_ids
    assert features.family == "王" and features.given == "小明" and features.full_name == "王小明"
    assert features.sex == "male" and str(features.birth_date) == "1985-03-12"
    assert features.phones == ("13907170000", "07176223456")
    assert features.district == "420502" and features.township == "西陵街道"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("欧阳^娜娜", {"family": "欧阳", "given": ["娜娜"], "text": "欧阳娜娜"}),
        ("阿依古丽·买买提", {"text": "阿依古丽·买买提"}),
        ("王小明", {"text": "王小明"}),
        ("ZHANG^WEI", {"family": "ZHANG", "given": ["WEI"]}),
    ],
)
def test_names(name: str, expected: dict[str, Any]) -> None:
    (patient,) = of_type(map_raw(cases.adt_a04(name=name)), "Patient")
    assert patient["name"] == [expected]
    assert features_from_patient(patient).name.full_pinyin


def test_minority_name_is_split_by_the_index() -> None:
    (patient,) = of_type(map_raw(cases.adt_a01_minority()), "Patient")
    features = features_from_patient(patient)
    assert features.full_name == "阿依古丽·买买提"
    assert features.name.family_pinyin and features.name.given_pinyin


def test_malformed_resident_id_is_kept_and_does_not_fail() -> None:
    mapped = map_raw(cases.adt_a04(resident_id=cases.BROKEN_RESIDENT_ID))
    (patient,) = of_type(mapped, "Patient")
    assert {"system": RESIDENT_ID_SYSTEM, "value": cases.BROKEN_RESIDENT_ID} in [
        {k: i[k] for k in ("system", "value")} for i in patient["identifier"]
    ]
    assert "resident_id_invalid" in features_from_patient(patient).flags


def test_resident_id_recognised_by_shape_without_type_code() -> None:
    raw = cases.adt_a04(resident_id=None)
    raw = raw.replace(b"^^^YB^YB", b"^^^YB^YB~" + cases.RESIDENT_ID.encode() + b"^^^^")
    (patient,) = of_type(map_raw(raw), "Patient")
    assert cases.RESIDENT_ID in [
        i["value"] for i in patient["identifier"] if i["system"] == RESIDENT_ID_SYSTEM
    ]


def test_same_message_gives_the_same_bundle() -> None:
    assert map_raw(cases.adt_a04()).bundle == map_raw(cases.adt_a04()).bundle
    entry = patient_entry(cases.parse(cases.adt_a04()).first("PID"), CONTEXT)  # type: ignore[arg-type]
    assert entry == map_raw(cases.adt_a04()).bundle["entry"][0] | {"resource": entry["resource"]}


def test_merge_a40() -> None:
    mapped = map_raw(cases.adt_a40())
    check_bundle(mapped)
    survivor, retired = of_type(mapped, "Patient")
    assert survivor["identifier"][0]["value"] == "MR0001" and survivor["active"] is True
    assert retired["identifier"][0]["value"] == "MR0999" and retired["active"] is False
    request = mapped.bundle["entry"][1]["request"]
    assert request["url"] == f"Patient?identifier={facility_patient_system(FACILITY)}|MR0999"


def test_unlink_a37() -> None:
    mapped = map_raw(cases.adt_a37())
    check_bundle(mapped)
    assert mapped.index_operations == [IndexOperation("unlink", "MR0001", "MR0002")]
    assert len(of_type(mapped, "Patient")) == 2


def test_oru() -> None:
    mapped = map_raw(cases.oru_r01())
    by_url = check_bundle(mapped)
    (report,) = of_type(mapped, "DiagnosticReport")
    assert report["status"] == "final" and report["issued"] == "2024-03-15T10:30:00+08:00"
    wbc, abo, note = (by_url[r["reference"]] for r in report["result"])
    ucum = "http://unitsofmeasure.org"
    assert wbc["valueQuantity"] == {
        "value": 11.2,
        "unit": "10*9/L",
        "system": ucum,
        "code": "10*9/L",
    }
    assert wbc["referenceRange"][0]["high"]["value"] == 9.5
    assert wbc["interpretation"][0]["coding"][0]["code"] == "H"
    assert wbc["identifier"][0] == {
        "system": facility_identifier_system(FACILITY, "observation"),
        "value": "LAB2024031501/1",
    }
    assert abo["valueCodeableConcept"]["coding"][0]["code"] == "A+"
    assert note["valueString"] == "标本轻度溶血" and note["note"] == [{"text": "请结合临床"}]
    assert report["encounter"] == wbc["encounter"]
    patient_request = mapped.bundle["entry"][0]["request"]
    assert patient_request["method"] == "POST" and "ifNoneExist" in patient_request


def test_siu() -> None:
    mapped = map_raw(cases.siu_s12())
    check_bundle(mapped)
    (appointment,) = of_type(mapped, "Appointment")
    assert appointment["status"] == "booked"
    assert appointment["start"] == "2024-03-20T09:00:00+08:00"
    assert appointment["end"] == "2024-03-20T09:30:00+08:00"
    assert all(p["status"] == "accepted" for p in appointment["participant"])
    assert appointment["participant"][1]["actor"] == {"display": "张主任"}


def test_siu_cancel_without_end_uses_duration() -> None:
    raw = cases.siu_s12().replace(b"SIU^S12", b"SIU^S15").replace(b"TQ1||", b"TQX||")
    (appointment,) = of_type(map_raw(raw), "Appointment")
    assert appointment["status"] == "cancelled"
    assert appointment["end"] == "2024-03-20T09:30:00+08:00"


def test_referral() -> None:
    mapped = map_raw(cases.ref_i12())
    by_url = check_bundle(mapped)
    (request,) = of_type(mapped, "ServiceRequest")
    (task,) = of_type(mapped, "Task")
    assert request["category"][0]["coding"][0]["code"] == "3457005"
    assert request["priority"] == "stat" and request["requester"] == {"display": cases.REFERRING}
    assert request["identifier"][0]["value"] == "ZZ2024031501"
    assert task["status"] == "requested" and task["owner"] == {"display": cases.REFERRED_TO}
    assert by_url[task["focus"]["reference"]] is request
    cancelled = map_raw(cases.ref_i12().replace(b"REF^I12", b"REF^I14"))
    assert of_type(cancelled, "Task")[0]["status"] == "cancelled"


def test_charges() -> None:
    mapped = map_raw(cases.dft_p03())
    check_bundle(mapped)
    first, second = of_type(mapped, "ChargeItem")
    assert first["priceOverride"] == {"value": 25.0, "currency": "CNY"}
    assert second["priceOverride"] == {"value": 25.0, "currency": "CNY"}  # 12.50 x 2
    assert first["identifier"][0]["value"] == "T0001" and first["status"] == "billable"
    assert "context" in first


# -- bad input --------------------------------------------------------------------------------


def test_missing_pid_3_is_an_ae_at_pid_3() -> None:
    raw = cases.with_segment_field(cases.adt_a04(), "PID", 3, "")
    with pytest.raises(Hl7ContentError) as caught:
        map_raw(raw)
    assert caught.value.location == "PID-3"
    assert caught.value.code is ErrorCode.REQUIRED_FIELD_MISSING


def test_impossible_birth_date_is_an_ae_at_pid_7() -> None:
    with pytest.raises(Hl7ContentError) as caught:
        map_raw(cases.adt_a04(birth="19850230"))
    assert caught.value.location == "PID-7" and caught.value.ack_code == "AE"
    assert "1985" not in str(caught.value)  # no personal data in the message


@pytest.mark.parametrize(
    ("message_type", "code"),
    [(b"ADT^A99", ErrorCode.UNSUPPORTED_EVENT), (b"XYZ^A04", ErrorCode.UNSUPPORTED_MESSAGE_TYPE)],
)
def test_unsupported_types_are_rejected(message_type: bytes, code: ErrorCode) -> None:
    raw = cases.adt_a04().replace(b"ADT^A04", message_type, 1)
    with pytest.raises(Hl7Reject) as caught:
        map_raw(raw)
    assert caught.value.code is code and caught.value.location == "MSH-9"


def test_context_needs_an_aware_time() -> None:
    with pytest.raises(ValueError):
        MappingContext(FACILITY, datetime(2024, 3, 15), "inbox-1")
