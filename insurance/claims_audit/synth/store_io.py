"""The month into the hub's store (the bulk path, as an operator loads data it generated) and
the recorded findings back out (read through the store as the claims-audit service)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.fhir.bulk import analyze_tables, bulk_create
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.claims_audit.codes import RULE_SYSTEM
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR
from insurance.claims_audit.synth.files import RESOURCE_TYPES, read_resources
from insurance.claims_audit.synth.score import FoundIssue

BATCH = 5_000
PAGE = 500


def _batches(items: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(items, BATCH)):
        yield batch


def load_month(folder: Path, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Bulk-load the month's NDJSON files (references first); returns resources by type."""
    cipher, base = get_cipher(), get_settings().fhir_base_url
    loaded: dict[str, int] = {}
    for resource_type in RESOURCE_TYPES:
        for batch in _batches(read_resources(folder, resource_type)):
            with session_scope() as session:
                bulk_create(session, resource_type, batch, actor=SYSTEM_ACTOR, cipher=cipher,
                            base_url=base)  # fmt: skip
            loaded[resource_type] = loaded.get(resource_type, 0) + len(batch)
            if progress:
                progress(len(batch))
    with session_scope() as session:
        analyze_tables(session)  # fresh statistics, as autovacuum would give after a load
    return loaded


def issue_of(issue: dict[str, Any]) -> FoundIssue | None:
    codes = [c.get("code") for c in (issue.get("code") or {}).get("coding") or []
             if c.get("system") == RULE_SYSTEM]  # fmt: skip
    if not codes:
        return None
    claims = tuple(
        ref.removeprefix("Claim/")
        for i in issue.get("implicated") or []
        if (ref := str(i.get("reference") or "")).startswith("Claim/")
    )
    return FoundIssue(str(issue.get("id")), str(codes[0]), claims)


def recorded_issues(claims: frozenset[str]) -> list[FoundIssue]:
    """The recorded findings (DetectedIssue) naming one of ``claims``."""
    found: list[FoundIssue] = []
    with session_scope() as session:
        store = FhirStore(session, CLAIMS_AUDIT_ACTOR, get_cipher(), get_settings().fhir_base_url)
        offset = 0
        while True:
            page = store.search("DetectedIssue", [("_count", str(PAGE)), ("_offset", str(offset))])
            for match in page.matches:
                issue = issue_of(match.as_dict())
                if issue is not None and claims & set(issue.claims):
                    found.append(issue)
            if not page.more:
                return found
            offset += PAGE
