"""The national 2207 under real concurrency, on PostgreSQL (SQLite serialises writers and would
prove nothing): several 2207s settling the same fee batch under different msgids at once (a HIS
that timed out and retried with a new msgid instead of the same one). The batch's ChargeItems are
marked settled with If-Match on the version each message read, so exactly one settles; every
other one answers infcode -1 naming the batch, and the accumulators count the batch once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.integration.booking_helpers import new_patient
from tests.integration.insurance_books import books
from tests.integration.national_helpers import A_CODE, B_CODE, His, insured_person
from tests.integration.pharmacy_helpers import ensure_organizations
from tests.postgres import PostgresHub

RACERS = 4
ROUNDS = 3  # three batches, so the race is run more than once
ITEMS = [(A_CODE, 1, "10.00"), (B_CODE, 10, "0.90")]  # 19.00 yuan
OPENING_FEN = 5_000


@pytest.fixture(scope="module")
def pg_his(postgres_live_hub: PostgresHub) -> Iterator[tuple[httpx.Client, His]]:
    """(an administrating facility system, H001's HIS with purpose HPAYMT) on PostgreSQL."""
    clients = []
    for purpose in (None, "HPAYMT"):
        token = postgres_live_hub.make_token(facility="H001", purpose=purpose)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        url = postgres_live_hub.hub.fhir_url
        clients.append(httpx.Client(base_url=url, headers=headers, timeout=120))
    ensure_organizations(clients[0], "H001")
    yield clients[0], His(clients[1], postgres_live_hub.hub.base_url, "H001")
    for client in clients:
        client.close()


def _send_at_once(his: His, envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = threading.Barrier(len(envelopes))

    def send(envelope: dict[str, Any]) -> dict[str, Any]:
        start.wait()
        return his.send(envelope)  # asserts HTTP 200: a refusal is an envelope, not a 5xx

    with ThreadPoolExecutor(len(envelopes)) as pool:
        return list(pool.map(send, envelopes))


def _books(url: str, patient: str) -> tuple[tuple[int, int, int], tuple[int, int, int], int]:
    """As :func:`books`, the accumulator's balance turned into the account paid from it."""
    (deductible, fund, balance), ledger, settlements = books(url, patient)
    return (deductible, fund, OPENING_FEN - balance), ledger, settlements


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_fee_batch_settled_under_several_msgids_at_once_settles_once(
    pg_his: tuple[httpx.Client, His], postgres_database: str, round_: int
) -> None:
    api, his = pg_his
    patient = new_patient(api)
    psn = insured_person(api, patient, balance_fen=OPENING_FEN)
    mdtrt_id = his.register(psn)
    his.upload(psn, mdtrt_id, ITEMS)
    data = His.settle_data(psn, mdtrt_id, "19.00")
    envelopes = [his.envelope("2207", data) for _ in range(RACERS)]
    assert len({e["msgid"] for e in envelopes}) == RACERS

    answers = _send_at_once(his, envelopes)

    settled = [a for a in answers if a["infcode"] == 0]
    refused = [a for a in answers if a["infcode"] != 0]
    assert len(settled) == 1, answers
    assert len(refused) == RACERS - 1
    for answer in refused:
        assert answer["output"] is None
        assert "chrg_bchno B1" in answer["err_msg"] and "settled" in answer["err_msg"], answer
    info = settled[0]["output"]["setlinfo"]
    assert info["medfee_sumamt"] == 19.0

    accumulator, ledger, settlements = _books(postgres_database, patient)
    assert settlements == 1  # the losers' settlement rows rolled back with them
    assert accumulator == ledger  # counted once: the accumulator is the one settlement
    assert accumulator[2] == round(info["acct_pay"] * 100)
    assert his.balance(psn) == round((OPENING_FEN - accumulator[2]) / 100, 2)
    # The batch stays settled once: a new msgid for it is refused, nothing moves.
    assert "settled already" in his.refused("2207", data)
    assert _books(postgres_database, patient)[0] == accumulator
