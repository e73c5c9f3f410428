"""Naming systems (URIs) the hub mints or recognises, in one place.

The base namespace is a reserved ``.example`` domain until the region registers its own; every
system URI the hub emits derives from it so a deployment can change it consistently.
"""

from __future__ import annotations

NAMESPACE = "https://hub.yichang.example/fhir"

# People
RESIDENT_ID_SYSTEM = f"{NAMESPACE}/sid/cn-resident-id"  # GB 11643 居民身份证号码
INSURANCE_PERSON_SYSTEM = f"{NAMESPACE}/sid/cn-insurance-person"  # 医保个人编号
ENTERPRISE_ID_SYSTEM = f"{NAMESPACE}/sid/enterprise-id"  # MPI person id

# Facilities
FACILITY_CODE_SYSTEM = f"{NAMESPACE}/sid/facility"
HL7V2_SENDING_FACILITY_SYSTEM = f"{NAMESPACE}/sid/hl7v2-sending-facility"
DISTRICT_CODE_SYSTEM = f"{NAMESPACE}/CodeSystem/gb-t-2260"  # administrative division codes
FACILITY_KIND_SYSTEM = f"{NAMESPACE}/CodeSystem/facility-kind"
HOSPITAL_LEVEL_SYSTEM = f"{NAMESPACE}/CodeSystem/hospital-level"  # 一级/二级/三级 + 甲乙丙
# Extension on Address carrying the GB/T 2260 code of Address.district as a Coding
ADDRESS_DISTRICT_CODE_EXTENSION = f"{NAMESPACE}/StructureDefinition/address-district-code"


def facility_patient_system(facility_code: str) -> str:
    """Identifier namespace for one facility's local patient numbers."""
    return f"{NAMESPACE}/sid/facility/{facility_code}/patient"


def facility_identifier_system(facility_code: str, kind: str) -> str:
    """Identifier namespace for one kind of a facility's own numbers (``"encounter"``, ``"order"``).

    ``facility_identifier_system(code, "patient")`` is :func:`facility_patient_system` (code).
    """
    return f"{NAMESPACE}/sid/facility/{facility_code}/{kind}"
