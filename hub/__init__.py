"""Regional Health Hub core: FHIR R4 store and API, auth, audit, registry, CLI."""

__version__ = "0.1.0"
