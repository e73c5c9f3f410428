"""The ``hub`` listings in three formats, whole at 80 columns, and wrong input answered with one
line and an exit code (1 nothing found, 2 refused), never a traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from hub.region.facilities import load_facilities
from tests.integration.hub_cli import HUB, run_hub
from tests.integration.table_text import column_text

NARROW = {**os.environ, "COLUMNS": "80"}


def _refused(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def _unused_facility() -> str:
    return load_facilities()[-1].code  # a village clinic no test sends messages for


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["messages", "list", "--status", "bogus"], 2, "Invalid value for '--status'"),
        (["messages", "list", "--facility", "NOPE9"], 2, "unknown facility code 'NOPE9'"),
        (["messages", "list", "--since", "last tuesday"], 2, "Invalid value for '--since'"),
        (["messages", "show", "987654321"], 1, "no message 987654321"),
        (["messages", "trace", "987654321"], 1, "no message 987654321"),
        (["messages", "replay", "--reason", "x"], 2, "give message ids or --facility"),
        (["messages", "replay", "987654321", "--reason", "x"], 1, "no message 987654321"),
        (["messages", "replay", "--facility", "NOPE9", "--reason", "x"], 2, "unknown facility"),
        (["mpi", "links", "--facility", "NOPE9"], 2, "unknown facility code 'NOPE9'"),
        (["facilities", "list", "--format", "xml"], 2, "Invalid value for '--format'"),
        (["audit", "break-glass", "--since", "yesterday"], 2, "not a FHIR date"),
        (
            [
                "clients",
                "add",
                "--facility",
                "H001",
                "--role",
                "practitioner",
                "--jwks",
                "/no/such/jwks.json",
            ],
            2,
            "does not exist",
        ),
        (["clients", "keygen", "--out", "/proc/no-such/dir"], 2, "cannot make /proc/no-such/dir"),
        (["clients", "keygen", "--out", "x", "--alg", "HS256"], 2, "Invalid value for '--alg'"),
        (
            ["mpi", "train", "--synthetic", "100", "--out", "/no/such/model.json"],
            2,
            "/no/such is not a directory",
        ),
    ],
)
def test_wrong_input_is_one_line_and_an_exit_code(
    database: str, args: list[str], code: int, message: str
) -> None:
    _refused(run_hub(*args), code, message)


def test_replay_of_a_facility_without_dead_letters_names_the_facility(database: str) -> None:
    facility = _unused_facility()
    result = run_hub("messages", "replay", "--facility", facility, "--reason", "x")
    _refused(result, 1, f"no dead letters for facility {facility}")


def test_an_empty_listing_says_so_and_exits_0(database: str) -> None:
    """Empty is an answer: a script exporting every facility's messages must not stop."""
    facility = _unused_facility()
    table = run_hub("messages", "list", "--facility", facility)
    assert table.returncode == 0 and "no messages match" in table.stderr
    assert "Traceback" not in table.stderr
    as_json = run_hub("messages", "list", "--facility", facility, "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout) == []


def test_a_database_without_the_schema_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    for args in (["messages", "list"], ["clients", "list"], ["mpi", "links"], ["keys", "status"]):
        _refused(run_hub(*args, env=env), 1, "run `hub db upgrade`")


def test_facilities_as_json_and_csv() -> None:
    as_json = run_hub("facilities", "list", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    as_csv = list(
        csv.DictReader(io.StringIO(run_hub("facilities", "list", "--format", "csv").stdout))
    )
    assert rows == as_csv and len(rows) == len(load_facilities())
    assert {r["code"]: r["hl7_sending_facility"] for r in rows}["H001"] == "YC_H001"


def test_facilities_at_80_columns_keep_every_name_whole() -> None:
    result = run_hub("facilities", "list", env=NARROW)
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "…" not in result.stdout
    names = column_text(result.stdout, 2)
    longest = max((f.name for f in load_facilities()), key=len)
    assert len(longest) > 10 and "".join(longest.split()) in names
    assert all("".join(f.name.split()) in names for f in load_facilities())


def test_clients_list_in_three_formats(database: str, tmp_path: Path) -> None:
    keygen = run_hub("clients", "keygen", "--out", str(tmp_path))
    assert keygen.returncode == 0, keygen.stderr
    description = "laboratory information system of the central hospital, night shift feed " * 2
    jwks = keygen.stdout.strip()
    added = run_hub("clients", "add", "--facility", "H001", "--role", "practitioner",
                    "--jwks", jwks, "--description", description.strip())  # fmt: skip
    assert added.returncode == 0, added.stderr
    client_id = added.stdout.strip().splitlines()[-1]

    rows = json.loads(run_hub("clients", "list", "--format", "json").stdout)
    mine = next(r for r in rows if r["client_id"] == client_id)
    assert mine["facility"] == "H001" and mine["state"] == "active"
    assert mine["created"].endswith("+00:00")
    in_csv = list(csv.DictReader(io.StringIO(run_hub("clients", "list", "--format", "csv").stdout)))
    assert any(r["client_id"] == client_id and r["role"] == "practitioner" for r in in_csv)

    table = run_hub("clients", "list", env=NARROW)
    assert table.returncode == 0, table.stderr
    flat = "".join(table.stdout.split())
    assert "".join(description.split()) in flat and client_id in flat
    assert "…" not in table.stdout


def test_mpi_links_csv_keeps_its_columns(database: str) -> None:
    from tests.integration.hl7_harness import running_gateway, wait_processed
    from tests.integration.test_hl7_gateway import FACILITY, adt

    text, control_id, mrn = adt()
    with running_gateway() as gateway:
        gateway.send(text.encode())
        wait_processed(FACILITY, {control_id})
    result = run_hub("mpi", "links", "--facility", FACILITY, "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "facility,source_id,person_id,state,score"
    as_json = json.loads(run_hub("mpi", "links", "--facility", FACILITY, "--format", "json").stdout)
    assert any(link["source_id"] == mrn for link in as_json)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_mllp_binds_the_host_given(database: str) -> None:
    port = _free_port()
    listener = subprocess.Popen([str(HUB), "mllp", "--host", "127.0.0.2", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.2", port), timeout=0.5).close()
                break
            except OSError:
                assert listener.poll() is None, listener.stderr.read() if listener.stderr else ""
                assert time.monotonic() < deadline, "the listener did not start"
                time.sleep(0.1)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        listener.terminate()
        listener.wait(10)
