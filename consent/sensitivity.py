"""Which data is sensitive: security labels, and the clinical codes that imply them (as data).

PIPL Art. 28 makes all health data sensitive personal information; the region singles out
classes that need the patient's explicit opt-in before any other facility sees them. A class is
named by its HL7 v3 ``ActCode`` information-sensitivity code, the same code a Consent provision
puts in ``securityLabel`` and a writer may put in ``meta.security``, so consents, labels and code
mappings speak one vocabulary.

A resource's labels come from ``meta.security`` plus its *primary* code (the Condition's or the
Observation's own ``code``): those withhold the whole resource. Codes in *secondary* elements (an
Encounter's ``reasonCode``) only mark that element, which the decision may redact while the rest
of the resource is shared. The code lists below are a starting set for ICD-10 (China's clinical
edition keeps the WHO chapters) and LOINC; extend them here, not in the decision code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ICD10_SYSTEMS = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "https://hub.yichang.example/fhir/CodeSystem/icd-10-cn",
    }
)
LOINC_SYSTEM = "http://loinc.org"


class SensitiveClass(StrEnum):
    """v3 ActCode information-sensitivity codes the regional policy treats as sensitive."""

    PSY = "PSY"  # psychiatry / mental health
    BH = "BH"  # behavioural health
    HIV = "HIV"
    STD = "STD"  # sexually transmitted disease
    SEX = "SEX"  # sexuality and reproductive health
    GDIS = "GDIS"  # genetic disease
    ETH = "ETH"  # substance abuse (alcohol, drugs)


# ICD-10 code prefixes (dots removed, upper case) -> label. The longest matching prefix wins, so
# F10-F19 (substance use) is ETH although F (mental and behavioural) is PSY.
ICD10_PREFIXES: dict[str, SensitiveClass] = {
    "F": SensitiveClass.PSY,
    **{f"F1{digit}": SensitiveClass.ETH for digit in range(10)},
    **{f"B2{digit}": SensitiveClass.HIV for digit in range(5)},  # B20-B24 HIV disease
    "Z21": SensitiveClass.HIV,  # asymptomatic HIV infection status
    "R75": SensitiveClass.HIV,  # inconclusive laboratory evidence of HIV
    **{f"A{number}": SensitiveClass.STD for number in range(50, 65)},  # A50-A64
    **{f"O0{digit}": SensitiveClass.SEX for digit in range(9)},  # O00-O08 abortive outcome
    "Z30": SensitiveClass.SEX,  # contraceptive management
    "Z31": SensitiveClass.SEX,  # procreative management
    **{f"Q9{digit}": SensitiveClass.GDIS for digit in range(10)},  # Q90-Q99 chromosomal
}

LOINC_CODES: dict[str, SensitiveClass] = {
    "7917-8": SensitiveClass.HIV,  # HIV 1 Ab [Presence] in Serum
    "7918-6": SensitiveClass.HIV,  # HIV 1+2 Ab [Presence] in Serum
    "56888-1": SensitiveClass.HIV,  # HIV 1+2 Ab + HIV 1 p24 Ag [Presence]
    "75622-1": SensitiveClass.HIV,  # HIV 1+2 Ab + HIV 1 p24 Ag [Presence] by Immunoassay
    "25836-8": SensitiveClass.HIV,  # HIV 1 RNA [#/volume] by NAA
    "20507-0": SensitiveClass.STD,  # Reagin Ab (syphilis RPR)
    "5292-8": SensitiveClass.STD,  # Reagin Ab (syphilis VDRL)
    "51969-4": SensitiveClass.GDIS,  # Genetic analysis report
    "3426-4": SensitiveClass.ETH,  # Tetrahydrocannabinol [Presence] in Urine
    "19295-5": SensitiveClass.ETH,  # Opiates [Presence] in Urine by Screen method
    "5643-2": SensitiveClass.ETH,  # Ethanol [Mass/volume] in Serum or Plasma
    "44249-1": SensitiveClass.PSY,  # PHQ-9 quick depression assessment panel
}

# resource type -> elements whose codes label the whole resource
PRIMARY_CODE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Condition": ("code",),
    "Observation": ("code",),
    "Procedure": ("code",),
    "DiagnosticReport": ("code",),
    "AllergyIntolerance": ("code",),
    "MedicationRequest": ("medicationCodeableConcept",),
    "MedicationStatement": ("medicationCodeableConcept",),
}
# resource type -> elements whose codes label only that element (redactable)
SECONDARY_CODE_ELEMENTS: dict[str, tuple[str, ...]] = {
    "Encounter": ("reasonCode",),
    "DiagnosticReport": ("conclusionCode",),
    "Observation": ("valueCodeableConcept",),
    "ServiceRequest": ("reasonCode",),
    "Appointment": ("reasonCode",),
    "EpisodeOfCare": ("type",),
}


@dataclass(frozen=True)
class Sensitivity:
    """Labels of one resource: on the whole of it, and on single elements (path -> labels)."""

    labels: frozenset[str] = frozenset()
    element_labels: tuple[tuple[str, frozenset[str]], ...] = ()


def code_label(system: str | None, code: str | None) -> SensitiveClass | None:
    """The sensitive class a clinical code implies, if any."""
    if not code:
        return None
    if system in ICD10_SYSTEMS:
        key = code.replace(".", "").upper()
        for length in range(len(key), 0, -1):
            label = ICD10_PREFIXES.get(key[:length])
            if label is not None:
                return label
        return None
    if system == LOINC_SYSTEM:
        return LOINC_CODES.get(code)
    return None


def classify(resource: dict[str, Any]) -> Sensitivity:
    """The labels the decision point needs for ``resource`` (pure; no terminology server)."""
    resource_type = str(resource.get("resourceType", ""))
    labels = set(security_labels(resource))
    for element in PRIMARY_CODE_ELEMENTS.get(resource_type, ()):
        labels.update(_labels_in(resource.get(element)))
    elements: list[tuple[str, frozenset[str]]] = []
    for element in SECONDARY_CODE_ELEMENTS.get(resource_type, ()):
        found = frozenset(_labels_in(resource.get(element)))
        if found:
            elements.append((f"{resource_type}.{element}", found))
    return Sensitivity(frozenset(labels), tuple(elements))


def security_labels(resource: dict[str, Any]) -> Iterator[str]:
    """Sensitivity and confidentiality codes in ``meta.security``."""
    meta = resource.get("meta")
    for coding in meta.get("security") or [] if isinstance(meta, dict) else []:
        if isinstance(coding, dict) and coding.get("system") in (
            ACT_CODE_SYSTEM,
            CONFIDENTIALITY_SYSTEM,
        ):
            code = coding.get("code")
            if isinstance(code, str) and code:
                yield code


def _labels_in(value: object) -> Iterator[str]:
    for concept in _concepts(value):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict):
                label = code_label(coding.get("system"), coding.get("code"))
                if label is not None:
                    yield str(label)


def _concepts(value: object) -> Iterable[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []
