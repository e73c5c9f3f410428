"""``hub messages trace`` after real ADT messages through the MLLP listener and the inbox: what
was received, the ACK, each attempt, the Patient written and the patient index's decision."""

from __future__ import annotations

import json
import os

from tests.integration.hl7_harness import make_dead_letter, msa, running_gateway, wait_processed
from tests.integration.hub_cli import run_hub
from tests.integration.table_text import column_text
from tests.integration.test_hl7_gateway import FACILITY, adt, patient_by_mrn


def _trace(message_id: int) -> list[dict[str, str]]:
    result = run_hub("messages", "trace", str(message_id), "--format", "json")
    assert result.returncode == 0, result.stderr
    steps: list[dict[str, str]] = json.loads(result.stdout)
    return steps


def test_trace_of_an_adt_shows_the_ack_the_patient_and_the_index_decision(database: str) -> None:
    text, control_id, mrn = adt("A04")
    with running_gateway() as gateway:
        (ack,) = gateway.send(text.encode())
        (row,) = wait_processed(FACILITY, {control_id})
    assert msa(ack)[0] == "AA"
    patient = patient_by_mrn(mrn)
    assert patient is not None
    reference = f"Patient/{patient['id']}"

    steps = _trace(row.id)
    by_step = {s["step"]: s for s in steps}
    assert (
        control_id in by_step["received"]["detail"] and "ADT^A04" in by_step["received"]["detail"]
    )
    assert FACILITY in by_step["received"]["detail"]
    assert by_step["received"]["at"].endswith("+00:00")
    assert by_step["ack"]["detail"].startswith("AA")
    assert by_step["attempt"]["detail"].startswith("processed")
    resources = [s["detail"] for s in steps if s["step"] == "resource"]
    assert f"{reference} version 1 created" in resources
    decisions = [s["detail"] for s in steps if s["step"] == "patient-index"]
    assert decisions and all(d.startswith(f"{reference}:") for d in decisions)
    assert "person" in decisions[0]
    assert by_step["status"]["detail"] == "processed after 1 attempt(s)"

    shown = run_hub("messages", "show", str(row.id))
    assert shown.returncode == 0 and f"hub messages trace {row.id}" in shown.stdout, shown.stderr

    table = run_hub("messages", "trace", str(row.id), env={**os.environ, "COLUMNS": "80"})
    assert table.returncode == 0, table.stderr
    details = column_text(table.stdout, 3)
    assert f"{reference}version1created" in details and "AAsent" in details
    assert "…" not in table.stdout


def test_trace_shows_a_dead_letter_its_replay_and_the_second_attempt(database: str) -> None:
    text, control_id, mrn = adt("A04")
    with running_gateway() as gateway:
        gateway.send(text.encode())
        (row,) = wait_processed(FACILITY, {control_id})
        make_dead_letter(row.id)
        replay = run_hub("messages", "replay", str(row.id), "--reason", "fixed the mapping")
        assert replay.returncode == 0, replay.stderr
        wait_processed(FACILITY, {control_id})
    steps = _trace(row.id)
    kinds = [s["step"] for s in steps]
    assert kinds.count("attempt") == 2 and kinds.count("replayed") == 1
    assert (
        kinds.index("attempt") < kinds.index("replayed") < len(kinds) - kinds[::-1].index("attempt")
    )
    replayed = next(s for s in steps if s["step"] == "replayed")
    assert "fixed the mapping" in replayed["detail"]
    patient = patient_by_mrn(mrn)
    assert patient is not None
    assert sum(s["detail"].startswith(f"Patient/{patient['id']} ") for s in steps) == 2


def test_trace_of_a_refused_message_shows_the_ar_and_why(database: str) -> None:
    text, control_id, _ = adt(facility="NOT_REGISTERED_ANYWHERE")
    with running_gateway() as gateway:
        (ack,) = gateway.send(text.encode())
    assert msa(ack)[0] == "AR"
    listed = run_hub("messages", "list", "--status", "rejected", "--limit", "5", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    mine = next(m for m in json.loads(listed.stdout) if m["control_id"] == control_id)
    assert mine["facility"] is None and "MSH-4" in mine["error"]
    steps = _trace(mine["id"])
    assert [s["step"] for s in steps] == ["received", "stored", "ack", "status"]
    assert steps[2]["detail"].startswith("AR")
    assert "kept as rejected" in steps[1]["detail"] and "MSH-4" in steps[1]["detail"]

    narrow = run_hub("messages", "list", "--status", "rejected", "--limit", "5",
                     env={**os.environ, "COLUMNS": "80"})  # fmt: skip
    assert narrow.returncode == 0, narrow.stderr
    assert "".join(mine["error"].split()) in "".join(narrow.stdout.split())
    assert "…" not in narrow.stdout
