"""``hub messages send``: a facility engineer's MLLP sender, run as the CLI against the real
front door (a gateway in the test process, processing in-process, as ``hub demo`` does)."""

from __future__ import annotations

from pathlib import Path

from hub.cli.send_command import ack_code, split_messages
from tests.integration.hl7_harness import inbox_rows, running_gateway, wait_processed
from tests.integration.hub_cli import run_hub
from tests.integration.test_hl7_gateway import FACILITY, adt, patient_by_mrn


def test_a_file_with_lf_line_ends_is_sent_as_cr_segments_one_message_per_msh() -> None:
    first, second = "MSH|^~\\&|A\nPID|1\n", "MSH|^~\\&|B\r\nPID|2\r\n\r\n"
    assert split_messages(("\ufeff" + first + second).encode()) == [
        b"MSH|^~\\&|A\rPID|1\r",
        b"MSH|^~\\&|B\rPID|2\r",
    ]
    assert ack_code(b"MSH|^~\\&|HUB\rMSA|AE|X1\rERR|||101") == b"AE"
    assert ack_code(b"MSH#^~\\&#HUB\rMSA#CA#X1") == b"CA"  # the message's own field separator


def test_send_prints_the_acks_and_the_message_is_processed(database: str, tmp_path: Path) -> None:
    good, good_id, mrn = adt(name="李^琳")
    bad, bad_id, _ = adt(birth="19901345")
    path = tmp_path / "two.hl7"
    path.write_text(good.replace("\r", "\n") + bad.replace("\r", "\n"), encoding="utf-8")
    with running_gateway() as gateway:
        done = run_hub("messages", "send", str(path), "--port", str(gateway.port))
        wait_processed(FACILITY, {good_id})
    assert done.returncode == 1, done.stderr  # one of the two was refused
    assert f"MSA|AA|{good_id}" in done.stdout and f"MSA|AE|{bad_id}" in done.stdout
    assert "ERR|" in done.stdout and "1 of 2 messages not accepted" in done.stderr
    patient = patient_by_mrn(mrn)
    assert patient is not None and patient["name"][0]["family"] == "李"
    assert len(inbox_rows(lambda r: r.control_id in (good_id, bad_id))) == 2


def test_send_of_accepted_messages_exits_zero(database: str, tmp_path: Path) -> None:
    text, control_id, _ = adt()
    path = tmp_path / "one.hl7"
    path.write_bytes(text.encode())
    with running_gateway() as gateway:
        done = run_hub("messages", "send", str(path), "--port", str(gateway.port))
        wait_processed(FACILITY, {control_id})
    assert done.returncode == 0, done.stderr
    assert f"MSA|AA|{control_id}" in done.stdout


def test_nothing_listening_and_unreadable_files_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "one.hl7"
    path.write_text("MSH|^~\\&|HIS|YC_H001\n", encoding="utf-8")
    refused = run_hub("messages", "send", str(path), "--port", "1")
    assert refused.returncode == 1 and "cannot connect" in refused.stderr
    missing = run_hub("messages", "send", str(tmp_path / "absent.hl7"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    (tmp_path / "empty.hl7").write_text("not hl7\n", encoding="utf-8")
    empty = run_hub("messages", "send", str(tmp_path / "empty.hl7"))
    assert empty.returncode == 2 and "no message" in empty.stderr
    for done in (refused, missing, empty):
        assert "Traceback" not in done.stderr
