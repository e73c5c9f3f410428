"""The loop's decisions: arrival within the validity, discharge plus feedback completes it, and
the patient told of each move. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from referral.loop import (
    ARRIVAL_OUTPUT,
    DEFAULT_VALIDITY,
    FEEDBACK_OUTPUT,
    LOINC,
    Visit,
    arrival_of,
    is_feedback,
    on_document,
    on_visit,
    outputs,
    validity,
    visit_of,
    with_referral,
)
from referral.patient_notice import patient_notice

AUTHORED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOW = AUTHORED + timedelta(days=2)
REQUEST: dict[str, Any] = {"id": "sr1", "identifier": [{"system": "urn:ref", "value": "R-1"}]}


def _task(status: str = "accepted", **more: Any) -> dict[str, Any]:
    return {
        "id": "t1",
        "status": status,
        "for": {"reference": "Patient/p"},
        "authoredOn": AUTHORED.isoformat(),
        **more,
    }


def _visit(
    status: str = "arrived", start: datetime | None = NOW, ref: str = "Encounter/e1"
) -> Visit:
    return Visit(ref, status, start)


def _summary(doc_id: str = "d1", **more: Any) -> dict[str, Any]:
    return {
        "id": doc_id,
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": "18842-5"}]},
        **more,
    }


def _arrived(status: str = "arrived") -> dict[str, Any]:
    moved = on_visit(_task(), REQUEST, _visit(status), NOW)
    assert moved is not None
    return moved


def test_an_arrival_moves_the_accepted_task_and_keeps_the_encounter() -> None:
    moved = _arrived()
    assert moved["status"] == "in-progress"
    assert moved["businessStatus"]["text"] == "arrived"
    assert arrival_of(moved) == "Encounter/e1"
    assert on_visit(moved, REQUEST, _visit(), NOW) is None  # the same visit again: no move


def test_only_an_accepted_referral_arrives() -> None:
    for status in ("requested", "received", "rejected", "cancelled", "completed"):
        assert on_visit(_task(status), REQUEST, _visit(), NOW) is None


def test_a_planned_or_cancelled_visit_is_no_arrival() -> None:
    for status in ("planned", "cancelled", "entered-in-error"):
        assert on_visit(_task(), REQUEST, _visit(status), NOW) is None


def test_an_arrival_outside_the_validity_does_not_count() -> None:
    late = AUTHORED + DEFAULT_VALIDITY + timedelta(hours=1)
    assert on_visit(_task(), REQUEST, _visit(start=late), NOW) is None
    early = AUTHORED - timedelta(days=1)  # an older visit, before the referral existed
    assert on_visit(_task(), REQUEST, _visit(start=early), NOW) is None
    # no start sent: the time it is written counts
    assert on_visit(_task(), REQUEST, _visit(start=None), late) is None
    assert on_visit(_task(), REQUEST, _visit(start=None), NOW) is not None


def test_the_validity_comes_from_the_task_then_the_request() -> None:
    restricted = _task(restriction={"period": {"end": "2026-12-05"}})
    start, end = validity(restricted, {"occurrencePeriod": {"end": "2027-01-01"}})
    assert start == AUTHORED
    assert end.date().isoformat() == "2026-12-05" and end.hour == 23  # the whole day
    _, end = validity(_task(), {"occurrencePeriod": {"end": "2026-12-10T08:00:00+08:00"}})
    assert end == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)
    _, end = validity(_task(), {"occurrenceDateTime": "2026-12-03"})
    assert end.date().isoformat() == "2026-12-03"
    assert validity(_task(), {})[1] == AUTHORED + DEFAULT_VALIDITY
    beyond = AUTHORED + timedelta(days=5)
    assert on_visit(restricted, REQUEST, _visit(start=beyond), NOW) is None


def test_discharge_then_feedback_completes_with_the_document() -> None:
    discharged = on_visit(_arrived(), REQUEST, _visit("finished"), NOW)
    assert discharged is not None
    assert discharged["status"] == "in-progress"
    assert discharged["businessStatus"]["text"] == "discharged"
    assert on_visit(discharged, REQUEST, _visit("finished"), NOW) is None  # said once
    done = on_document(discharged, _summary(), arrival_finished=True)
    assert done is not None and done["status"] == "completed"
    assert done["businessStatus"]["text"] == "feedback-returned"
    assert outputs(done, FEEDBACK_OUTPUT) == ["DocumentReference/d1"]
    assert outputs(done, ARRIVAL_OUTPUT) == ["Encounter/e1"]


def test_feedback_then_discharge_completes_too() -> None:
    noted = on_document(_arrived(), _summary(), arrival_finished=False)
    assert noted is not None and noted["status"] == "in-progress"
    assert outputs(noted, FEEDBACK_OUTPUT) == ["DocumentReference/d1"]
    assert on_document(noted, _summary(), arrival_finished=False) is None  # kept once
    done = on_visit(noted, REQUEST, _visit("finished"), NOW)
    assert done is not None and done["status"] == "completed"


def test_another_visit_does_not_discharge_the_referral() -> None:
    other = _visit("finished", ref="Encounter/e2")
    assert on_visit(_arrived(), REQUEST, other, NOW) is None


def test_only_a_current_feedback_document_of_the_arrival_counts() -> None:
    arrived = _arrived()
    assert on_document(_task(), _summary(), arrival_finished=True) is None  # not arrived yet
    lab = _summary(type={"coding": [{"system": LOINC, "code": "11502-2"}]})
    assert not is_feedback(lab) and on_document(arrived, lab, arrival_finished=True) is None
    superseded = _summary(status="superseded")
    assert on_document(arrived, superseded, arrival_finished=True) is None
    elsewhere = _summary(context={"encounter": [{"reference": "Encounter/e9"}]})
    assert on_document(arrived, elsewhere, arrival_finished=True) is None
    its_own = _summary(context={"encounter": [{"reference": "Encounter/e1"}]})
    assert on_document(arrived, its_own, arrival_finished=True) is not None


def test_the_encounter_carries_the_referral_once() -> None:
    encounter = {"id": "e1", "status": "arrived", "period": {"start": NOW.isoformat()}}
    linked = with_referral(encounter, REQUEST)
    assert linked is not None
    assert linked["basedOn"] == [
        {"reference": "ServiceRequest/sr1", "identifier": REQUEST["identifier"][0]}
    ]
    assert "basedOn" not in encounter  # the caller's copy is untouched
    assert with_referral(linked, REQUEST) is None
    assert visit_of(linked) == Visit("Encounter/e1", "arrived", NOW)


def test_the_patient_is_told_of_each_status_change_only() -> None:
    first = patient_notice(None, _task("requested"))
    assert first is not None
    assert first["recipient"] == [{"reference": "Patient/p"}]
    assert first["about"] == [{"reference": "Task/t1"}]
    assert "转诊" in first["payload"][0]["contentString"]
    assert patient_notice(_task("accepted"), _task("accepted", businessStatus={})) is None
    moved = patient_notice(_task("accepted"), _task("in-progress"))
    assert moved is not None and "到院" in moved["payload"][0]["contentString"]
    assert patient_notice(None, {"id": "t", "status": "requested"}) is None  # no patient


def test_a_final_composition_of_the_arrival_is_feedback_too() -> None:
    arrived = _arrived()
    summary = _summary(resourceType="Composition", status="final")
    assert is_feedback(summary)
    assert not is_feedback({**summary, "status": "preliminary"})
    assert not is_feedback({**summary, "status": "current"})  # a DocumentReference's status
    elsewhere = {**summary, "encounter": {"reference": "Encounter/e9"}}
    assert on_document(arrived, elsewhere, arrival_finished=True) is None
    done = on_document(arrived, {**summary, "encounter": {"reference": "Encounter/e1"}}, True)
    assert done is not None and done["status"] == "completed"
    assert outputs(done, FEEDBACK_OUTPUT) == ["Composition/d1"]
