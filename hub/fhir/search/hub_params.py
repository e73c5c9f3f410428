"""The only hand-written search parameters: what the official R4 definitions cannot give.

Everything else comes from r4_search_parameters.json through hub.fhir.search.definitions. An
entry here replaces the official parameter of the same name; each says why it is written by hand.
"""

from __future__ import annotations

from hub.fhir.registry import ParamType, SearchParam

_CLAIMS_AUDIT = "https://hub.example.cn/fhir/StructureDefinition/claims-audit"

HAND_WRITTEN: dict[str, tuple[SearchParam, ...]] = {
    "AuditEvent": (
        # Not in R4 (added in R5 as AuditEvent.purpose); kept for the consent audit views.
        SearchParam(
            "purpose",
            ParamType.TOKEN,
            ("purposeOfEvent", "agent.purposeOfUse"),
            description="The purposeOfUse of the event",
        ),
    ),
    "Patient": (
        # The region's own: the district (county) part of an address, e.g. 夷陵区.
        SearchParam(
            "address-district",
            ParamType.STRING,
            ("address.district",),
            description="District (county) in an address",
        ),
        # R4: deceased.exists() and deceased != false -- a boolean expression the extractor
        # cannot evaluate; a death date indexes as true, and no value at all as false.
        SearchParam(
            "deceased",
            ParamType.TOKEN,
            ("deceasedBoolean", "deceasedDateTime"),
            description="This patient has been marked as deceased, or as a death date entered",
            absent="false",
        ),
    ),
    # R4 names these choice elements without a type (Observation.effective); the extractor
    # needs one path per concrete type, and only these types carry a date or a reference.
    "ChargeItem": (
        SearchParam(
            "occurrence",
            ParamType.DATE,
            ("occurrenceDateTime", "occurrencePeriod"),
            description="When the charged service was applied",
        ),
    ),
    "Consent": (
        SearchParam(
            "source-reference",
            ParamType.REFERENCE,
            ("sourceReference",),
            targets=("Consent", "DocumentReference", "Contract", "QuestionnaireResponse"),
            description="Search by reference to a Consent, DocumentReference, Contract or "
            "QuestionnaireResponse",
        ),
    ),
    "DetectedIssue": (
        # R4: DetectedIssue.identified, a choice element named without its type.
        SearchParam(
            "identified",
            ParamType.DATE,
            ("identifiedDateTime", "identifiedPeriod"),
            description="When identified",
        ),
        # Not in R4: the auditors' worklist is searched by status (open, confirmed, dismissed).
        SearchParam(
            "status", ParamType.TOKEN, ("status",), description="The status of the finding"
        ),
        # Not in R4: the facility whose claims a claims-audit finding is about, which its
        # evidence names (an extension cannot be indexed by the hub's path language).
        SearchParam(
            "facility",
            ParamType.REFERENCE,
            ("evidence.detail",),
            targets=("Organization",),
            description="The facility whose records are the evidence",
        ),
        # Not in R4: a claims-audit finding's service day, amount at risk and, once confirmed,
        # the amount to recover (the claims audit's extensions, ``insurance.claims_audit.
        # detected_issue``), so the auditor's figures are summed by the database
        # (``FhirStore.tally``) rather than from every finding loaded.
        SearchParam(
            "service-day",
            ParamType.DATE,
            (f"extension[url={_CLAIMS_AUDIT}-service-day].valueDate",),
            description="The day of the service a claims-audit finding is about",
        ),
        SearchParam(
            "amount-at-risk",
            ParamType.QUANTITY,
            (f"extension[url={_CLAIMS_AUDIT}-amount-at-risk].valueMoney",),
            description="The amount a claims-audit finding puts at risk (yuan)",
        ),
        SearchParam(
            "recover-amount",
            ParamType.QUANTITY,
            (f"extension[url={_CLAIMS_AUDIT}-review].extension[url=recover].valueMoney",),
            description="The amount a confirmed claims-audit finding is to recover (yuan)",
        ),
    ),
    "DiagnosticReport": (
        SearchParam(
            "date",
            ParamType.DATE,
            ("effectiveDateTime", "effectivePeriod"),
            description="The clinically relevant time of the report",
        ),
    ),
    "MedicationRequest": (
        # Not in R4 (its intended-performer is MedicationRequest.performer, who administers):
        # the pharmacy a circulated prescription (处方流转) is addressed to; a pharmacy finds
        # those addressed to it, and with :missing=true those addressed to any pharmacy.
        SearchParam(
            "dispense-performer",
            ParamType.REFERENCE,
            ("dispenseRequest.performer",),
            targets=("Organization",),
            description="The pharmacy the prescription is addressed to (dispenseRequest.performer)",
        ),
    ),
    "Observation": (
        SearchParam(
            "date",
            ParamType.DATE,
            ("effectiveDateTime", "effectivePeriod", "effectiveInstant"),
            description="Obtained date/time. If the obtained element is a period, a date that "
            "falls in the period",
        ),
    ),
    "Provenance": (
        # R4 says (occurred as dateTime); the hub also indexes an occurredPeriod, as before.
        SearchParam(
            "when",
            ParamType.DATE,
            ("occurredDateTime", "occurredPeriod"),
            description="When the activity occurred",
        ),
    ),
    "ServiceRequest": (
        SearchParam(
            "occurrence",
            ParamType.DATE,
            ("occurrenceDateTime", "occurrencePeriod"),
            description="When service should occur",
        ),
    ),
}
