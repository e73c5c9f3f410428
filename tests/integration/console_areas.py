"""Shared by the data steward's and the fund auditor's console tests: a store as a given actor
(the read models below the web layer) and the refusals the console audited for a staff member."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hub.auth.actor import Actor
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from tests.browser.staff import Staff
from tests.integration.console_client import browser_like, console_audit, signed_in
from tests.live import LiveHub


@contextmanager
def as_actor(actor: Actor) -> Iterator[FhirStore]:
    """One unit of work as ``actor``: committed when the block ends, rolled back if it raises."""
    with session_scope() as session:
        yield FhirStore(session, actor, get_cipher(), get_settings().fhir_base_url)


def refused_texts(username: str) -> list[str]:
    """The outcome texts of the console's failed (refused) audit records of ``username``."""
    return [text for _, outcome, text in console_audit(username) if outcome != "0"]


def assert_not_found_pages(hub: LiveHub, staff: Staff, paths: Sequence[str]) -> None:
    """Each of ``paths`` (a forged id in the URL) is a 404 page for ``staff``, each audited."""
    with browser_like(hub) as client:
        signed_in(client, staff)
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "text/html" in answer.headers["content-type"]
    assert sum("404" in text for text in refused_texts(staff.username)) >= len(paths)
