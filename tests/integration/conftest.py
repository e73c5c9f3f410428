"""The live hub's fixtures (``tests.live``) are registered for every suite by the root conftest:
one live server per run, whichever folders run."""

from tests.integration.patient_app import make_app  # noqa: F401  (the patient-login tests)
