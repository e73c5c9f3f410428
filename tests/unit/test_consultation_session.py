"""What makes an Appointment a consultation's session: its patient, and its doctors. Pure."""

from __future__ import annotations

from typing import Any

from referral.consultation.session import endpoints, session_notice, session_problem

PATIENT = "Patient/p1"


def _appointment(*actors: str, **more: Any) -> dict[str, Any]:
    return {
        "id": "a1",
        "participant": [{"actor": {"reference": a}} for a in actors],
        **more,
    }


def test_the_patient_and_a_doctor_make_a_session() -> None:
    assert session_problem(_appointment(PATIENT, "PractitionerRole/r1"), PATIENT) == ""


def test_another_patient_a_second_patient_or_no_doctor_is_no_session() -> None:
    assert "patient" in session_problem(_appointment("Patient/p2", "Practitioner/d"), PATIENT)
    both = _appointment(PATIENT, "Patient/p2", "Practitioner/d")
    assert "patient" in session_problem(both, PATIENT)
    assert "doctors" in session_problem(_appointment(PATIENT, "Location/room"), PATIENT)


def test_its_video_links_and_its_notice_on_the_thread() -> None:
    appointment = _appointment(
        PATIENT,
        "Practitioner/d",
        start="2026-12-09T10:00:00+08:00",
        supportingInformation=[{"reference": "Endpoint/e1"}, {"reference": "Binary/b"}],
    )
    assert endpoints(appointment) == ["Endpoint/e1"]
    notice = session_notice({"id": "t1", "for": {"reference": PATIENT}}, appointment, "H001")
    assert notice["partOf"] == [{"reference": "Task/t1"}]
    assert notice["about"] == [{"reference": "Appointment/a1"}]
    assert notice["subject"] == {"reference": PATIENT}
    assert notice["payload"][0]["contentString"].endswith("2026-12-09T10:00:00+08:00")
