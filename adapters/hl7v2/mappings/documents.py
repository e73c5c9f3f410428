"""MDM^T02 / T10 and document-carrying ORU^R01: a ``DocumentReference`` per document.

A facility whose HIS speaks only v2 returns its discharge summary or back-referral note (回转单)
this way. TXA describes the document (for ORU: OBR), the OBX segments carry it: ED as Base64
data, TX / FT / ST as text (kept as UTF-8 ``text/plain`` data, since an R4 Attachment has no
text element). The document is identified by TXA-12, its unique document number (else the
message control id); a T10 replaces the document of TXA-13 (``relatesTo`` replaces). The
sending facility is author and custodian. A document type of HL7 table 0270 (TXA-2) gets its
LOINC document code beside it, so a ``DS`` reads as LOINC 18842-5 *Discharge summary*.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable

from adapters.hl7v2.errors import ErrorCode
from adapters.hl7v2.mappings.adt import subject_references
from adapters.hl7v2.mappings.common import V2, Element, content_error, cwe, text_of
from adapters.hl7v2.mappings.context import (
    BundleBuilder,
    Identifier,
    Mapped,
    MappingContext,
    Resource,
    reference,
)
from adapters.hl7v2.mappings.datetimes import to_instant
from adapters.hl7v2.mappings.patient import required_pid
from adapters.hl7v2.parse import Message, Segment
from hub.fhir.systems import facility_identifier_system

LOINC = "http://loinc.org"
DOCUMENT_TYPE_TABLE = f"{V2}0270"
# HL7 table 0270 (document type) -> LOINC document codes (the v2-to-FHIR IG's intent).
LOINC_OF_0270 = {
    "DS": ("18842-5", "Discharge summary"),
    "TS": ("18761-7", "Transfer summary note"),
    "CN": ("11488-4", "Consult note"),
    "HP": ("34117-2", "History and physical note"),
    "OP": ("11504-8", "Surgical operation note"),
    "PN": ("28570-0", "Procedure note"),
    "PR": ("11506-3", "Progress note"),
}
# LOINC codes of clinical notes: an ORU whose OBR-4 is one of them carries a document.
DOCUMENT_LOINC = frozenset(
    {code for code, _ in LOINC_OF_0270.values()} | {"34133-9", "57133-1", "11490-0"}
)
TEXT_KINDS = frozenset({"TX", "FT", "ST"})
CONTENT_KINDS = TEXT_KINDS | {"ED"}
_MEDIA = {"PDF": "application/pdf", "RTF": "application/rtf", "HTML": "text/html",
          "JPEG": "image/jpeg", "PNG": "image/png", "XML": "application/xml",
          "TEXT": "text/plain"}  # fmt: skip
_PLAIN = "text/plain; charset=utf-8"
# TXA-17 completion status (table 0271) -> docStatus; TXA-19 availability (0273) -> status
_DOC_STATUS = {"AU": "final", "LA": "final", "DO": "preliminary", "IP": "preliminary",
               "IN": "preliminary", "PA": "preliminary", "DI": "preliminary"}  # fmt: skip
_STATUS = {"CA": "entered-in-error", "OB": "superseded"}


def map_mdm(message: Message, context: MappingContext) -> Mapped:
    """T02 (a new document with its content) and T10 (it replaces an earlier one)."""
    required_pid(message)
    txa = message.first("TXA")
    if txa is None:
        raise content_error("an MDM message needs a TXA segment", "TXA", ErrorCode.SEGMENT_SEQUENCE)
    facility = context.facility_code
    document_type = cwe(txa, 2, facility, default_system=DOCUMENT_TYPE_TABLE)
    if document_type is None:
        raise content_error("TXA-2 (document type) is required", "TXA-2",
                            ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
    bundle = BundleBuilder(context)
    patient_ref, encounter_ref = subject_references(bundle, message)
    key = document_key(facility, txa.get(12), f"msg-{message.control_id}")
    document = document_reference(
        key,
        document_type,
        content(message.all("OBX"), "OBX"),
        facility,
        date=to_instant(txa.get(6), "TXA-6") or to_instant(txa.get(4), "TXA-4"),
    )
    document["status"] = _STATUS.get(txa.get(19).upper(), "current")
    doc_status = _DOC_STATUS.get(txa.get(17).upper())
    if doc_status:
        document["docStatus"] = doc_status
    if message.trigger_event == "T10":
        parent = txa.get(13)
        if not parent:
            raise content_error("a replacement (T10) names the document it replaces in TXA-13",
                                "TXA-13", ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
        replaced = document_key(facility, parent, "")
        document["relatesTo"] = [{"code": "replaces", "target": {"identifier": replaced}}]
    add_document(bundle, document, key, patient_ref, encounter_ref)
    return bundle.build()


def document_key(facility: str, number: str, fallback: str) -> Identifier:
    """The document's identifier: its unique document number (EI: the id component)."""
    value = number.split("^", 1)[0] or fallback
    return {"system": facility_identifier_system(facility, "document"), "value": value}


def document_reference(
    key: Identifier,
    document_type: Element,
    attachments: list[Element],
    facility: str,
    *,
    date: str | None,
) -> Resource:
    """A current DocumentReference by the sending facility (author and custodian)."""
    organization = reference(f"Organization/{facility}")
    document: Resource = {
        "masterIdentifier": key,
        "identifier": [key],
        "status": "current",
        "type": with_loinc(document_type),
        "author": [organization],
        "custodian": organization,
        "content": [{"attachment": a} for a in attachments],
    }
    if date:
        document["date"] = date
    return document


def add_document(
    bundle: BundleBuilder,
    document: Resource,
    key: Identifier,
    patient_ref: str | None,
    encounter_ref: str | None,
) -> None:
    if patient_ref:
        document["subject"] = reference(patient_ref)
    if encounter_ref:
        document["context"] = {"encounter": [reference(encounter_ref)]}
    bundle.put("DocumentReference", document, key)


def with_loinc(concept: Element) -> Element:
    """A table 0270 document type with its LOINC code added (a LOINC type is kept as it is)."""
    codings = concept.get("coding") or []
    found = [c for c in codings if c.get("system") == DOCUMENT_TYPE_TABLE]
    if not found or any(c.get("system") == LOINC for c in codings):
        return concept
    loinc = LOINC_OF_0270.get(str(found[0].get("code")).upper())
    if loinc is None:
        return concept
    return {**concept, "coding": [*codings, {"system": LOINC, "code": loinc[0],
                                             "display": loinc[1]}]}  # fmt: skip


def is_document_type(concept: Element | None) -> bool:
    """An OBR-4 naming a clinical note (LOINC, or table 0270) rather than a test."""
    codings = (with_loinc(concept) if concept else {}).get("coding") or []
    return any(c.get("system") == LOINC and c.get("code") in DOCUMENT_LOINC for c in codings)


def content(segments: Iterable[Segment], location: str) -> list[Element]:
    """The attachments the OBX segments carry: each ED one, and the text ones as one text."""
    attachments: list[Element] = []
    lines: list[str] = []
    for obx in segments:
        kind = obx.get(2).upper()
        if kind == "ED":
            attachments.append(encapsulated(obx, location))
        elif kind in TEXT_KINDS and (text := text_of(obx, 5)):
            lines.append(text)
    if lines:
        data = base64.b64encode("\n".join(lines).encode()).decode()
        attachments.append({"contentType": _PLAIN, "data": data})
    if not attachments:
        raise content_error("the document has no content (OBX-5 of type ED, TX, FT or ST)",
                            f"{location}-5", ErrorCode.REQUIRED_FIELD_MISSING)  # fmt: skip
    return attachments


def encapsulated(obx: Segment, location: str = "OBX") -> Element:
    """An ED value (source^type^subtype^encoding^data): Base64 data, checked, and its type."""
    parts = obx.components(5) + [""] * 5
    kind, subtype, encoding, data = parts[1], parts[2], parts[3], parts[4]
    if encoding.upper() != "BASE64" or not data:
        raise content_error("an ED value needs Base64 data (OBX-5.4 Base64, OBX-5.5 data)",
                            f"{location}-5", ErrorCode.DATA_TYPE)  # fmt: skip
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise content_error("OBX-5.5 is not valid Base64", f"{location}-5") from None
    form: Element = {"data": data}
    media = _MEDIA.get(subtype.upper()) or _MEDIA.get(kind.upper())
    if media:
        form["contentType"] = media
    return form


MDM_EVENTS: dict[str, Callable[[Message, MappingContext], Mapped]] = {
    "T02": map_mdm,
    "T10": map_mdm,
}
