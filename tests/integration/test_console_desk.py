"""The referral desk's pages over HTTP: what it may not do is refused, audited and changes
nothing: another facility's booking, a forged id, a form without its CSRF token, a bad day or
status, another role opening the desk's pages or the desk opening the operator's."""

from __future__ import annotations

import httpx
import pytest

from hub.console.staff import StaffRole
from tests.browser.staff import new_staff
from tests.integration.console_client import browser_like, csrf_of, signed_in
from tests.integration.console_refusals import refusals
from tests.integration.desk_parties import Booked, appointment_status, begun, book
from tests.live import LiveHub

pytestmark = pytest.mark.integration


@pytest.fixture
def booked() -> Booked:
    return begun(book())


def _mark(client: httpx.Client, booked: Booked, appointment_id: str, csrf: str | None) -> int:
    data = {"status": "noshow", "day": booked.day.isoformat()}
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(f"/console/desk/bookings/{appointment_id}/mark", data=data).status_code


def test_another_facilitys_desk_cannot_see_or_mark_the_booking(
    live_hub: LiveHub, booked: Booked
) -> None:
    other = new_staff(StaffRole.referral_desk, book().owner)
    with browser_like(live_hub) as client:
        signed_in(client, other)
        page = client.get(f"/console/desk/bookings?day={booked.day.isoformat()}")
        assert page.status_code == 200
        assert booked.appointment["id"] not in page.text
        assert booked.patient_name not in page.text
        before = refusals(other)
        status = _mark(client, booked, booked.appointment["id"], csrf_of(page))
        assert status in (403, 404)  # not its booking: refused as unknown or not the owner's
        assert refusals(other) == before + 1
    assert appointment_status(booked.appointment["id"]) == "booked"


def test_a_forged_id_a_missing_csrf_token_and_a_bad_day_are_refused(
    live_hub: LiveHub, booked: Booked
) -> None:
    desk = new_staff(StaffRole.referral_desk, booked.owner)
    with browser_like(live_hub) as client:
        signed_in(client, desk)
        page = client.get(f"/console/desk/bookings?day={booked.day.isoformat()}")
        before = refusals(desk)
        assert _mark(client, booked, "forged-0000", csrf_of(page)) == 404
        assert _mark(client, booked, booked.appointment["id"], None) == 403
        assert _mark(client, booked, booked.appointment["id"], "not-the-token") == 403
        bad_day = client.get("/console/desk?day=2026-13-45")
        assert bad_day.status_code == 400
        bad_mark = client.post(
            f"/console/desk/bookings/{booked.appointment['id']}/mark",
            data={"status": "cancelled", "csrf_token": csrf_of(page)},
        )
        assert bad_mark.status_code == 400
        assert refusals(desk) == before + 5
    assert appointment_status(booked.appointment["id"]) == "booked"


@pytest.mark.parametrize(
    "role", [StaffRole.practitioner, StaffRole.operator, StaffRole.auditor, StaffRole.data_steward]
)
def test_other_roles_cannot_open_the_desks_pages(live_hub: LiveHub, role: StaffRole) -> None:
    staff = new_staff(role, "H001")
    with browser_like(live_hub) as client:
        signed_in(client, staff)
        before = refusals(staff)
        for path in ("/console/desk", "/console/desk/bookings", "/console/desk/noshows"):
            assert client.get(path).status_code == 403
        assert refusals(staff) == before + 3


def test_the_desk_cannot_open_the_operators_pages(live_hub: LiveHub, booked: Booked) -> None:
    desk = new_staff(StaffRole.referral_desk, booked.owner)
    with browser_like(live_hub) as client:
        signed_in(client, desk)
        assert client.get("/console/operator").status_code == 403
        assert client.get("/console/operator/messages").status_code == 403
