"""Driving the console over HTTP (httpx against the live hub): sign-in, forms with their CSRF
token, and the audit records the console writes. For the refusal tests of every area."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import select

from hub.audit.models import AuditRecord
from hub.db import session_scope
from tests.browser.staff import Staff
from tests.integration.referral_parties import REASON, SOURCE, TARGET, created, new_case, task_of
from tests.live import LiveHub

REFERRAL_CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}
CONSULTATION_CATEGORY = {"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def browser_like(hub: LiveHub) -> Iterator[httpx.Client]:
    """A client that keeps cookies and does not follow redirects (tests look at them)."""
    with httpx.Client(base_url=hub.base_url, timeout=30, follow_redirects=False) as client:
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def post_sign_in(
    client: httpx.Client, staff: Staff, *, password: str | None = None, code: str | None = None
) -> httpx.Response:
    token = csrf_of(client.get("/console/login"))
    form = {
        "username": staff.username,
        "password": staff.password if password is None else password,
        "code": staff.code() if code is None else code,
        "csrf_token": token,
    }
    return client.post("/console/login", data=form)


def signed_in(client: httpx.Client, staff: Staff) -> str:
    """Sign ``staff`` in; returns the session's CSRF token (from the account page's form)."""
    response = post_sign_in(client, staff)
    assert response.status_code == 303, response.text[:500]
    return csrf_of(client.get("/console/account"))


def console_audit(username: str) -> list[tuple[str, str, str]]:
    """(interaction, outcome, outcome text) of the records naming ``console:<username>``."""
    with session_scope() as session:
        rows = session.execute(
            select(AuditRecord.interaction, AuditRecord.outcome, AuditRecord.outcome_text)
            .where(AuditRecord.client_id == f"console:{username}")
            .order_by(AuditRecord.seq)
        ).all()
    return [(interaction, outcome, text or "") for interaction, outcome, text in rows]


def new_referral(
    source: httpx.Client, *, opted_out: bool = False, consultation: bool = False
) -> dict[str, Any]:
    """An urgent referral (or a consultation) from the township centre (SOURCE) to H001's
    cardiology: its Task."""
    case = new_case(source, opted_out=opted_out)
    request = created(
        source,
        {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "category": [CONSULTATION_CATEGORY if consultation else REFERRAL_CATEGORY],
            "priority": "urgent",
            "subject": {"reference": f"Patient/{case.patient}"},
            "requester": {"reference": f"Organization/{SOURCE}"},
            "performer": [{"reference": f"HealthcareService/{TARGET}-cardiology"}],
            "reasonCode": REASON,
        },
    )  # fmt: skip
    return task_of(source, request["id"])
