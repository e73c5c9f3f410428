"""Facility adapters: HL7 v2 over MLLP and FHIR inbound/outbound (see issue: facility adapters)."""
