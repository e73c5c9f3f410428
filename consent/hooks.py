"""Consent writes: checked in the writing transaction, and the session's rule cache emptied.

Registered for ``Consent`` in :mod:`hub.wiring`, so every path that writes a Consent
(REST, Bundles, anything else through the store) is checked the same way. The hook runs after
the row is written but before commit; raising rolls the whole write back, so no Consent is ever
half applied.
"""

from __future__ import annotations

from typing import Any

from consent.service import check_consent_write, forget_cached_rules
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind


def check_consent(
    store: FhirStore, kind: WriteKind, resource_type: str, consent: dict[str, Any]
) -> None:
    forget_cached_rules(store.session)  # a withdrawal counts from the next decision on
    if kind is not WriteKind.DELETE:
        check_consent_write(store, consent)
