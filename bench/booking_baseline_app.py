"""The simplest correct booking, for bench/booking_surge.py to compare with: one
``SELECT ... FOR UPDATE`` of the slot's capacity row, a count check in Python, then the
insert, per request. Same tables and constraints as the hub's ledger; no FHIR, no auth, no
audit, so it costs less per request than the hub and only its locking differs in kind.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request, Response

engine = sa.create_engine(os.environ["HUB_DATABASE_URL"], pool_size=10, max_overflow=10)
app = FastAPI()


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/book")
async def book(request: Request) -> Response:
    body: Any = orjson.loads(await request.body())
    from starlette.concurrency import run_in_threadpool

    status = await run_in_threadpool(_book, body["slot"], body["person"], body["key"])
    return Response(status_code=status)


def _book(slot: str, person: str, key: str) -> int:
    with engine.begin() as connection:
        row = connection.execute(
            sa.text(
                "SELECT capacity, booked FROM booking_slot_capacity WHERE slot_id = :s FOR UPDATE"
            ),
            {"s": slot},
        ).first()
        if row is None or row.booked >= row.capacity:
            return 409
        seen = connection.execute(
            sa.text(
                "SELECT 1 FROM booking_place WHERE idempotency_key = :k OR (slot_id = :s AND "
                "person_key = :p AND state IN ('held', 'booked'))"
            ),
            {"k": key, "s": slot, "p": person},
        ).first()
        if seen is not None:
            return 200
        connection.execute(
            sa.text(
                "INSERT INTO booking_place (slot_id, appointment_id, person_key, "
                "idempotency_key, state, referral, created) VALUES (:s, :k, :p, :k, 'booked', "
                "false, :now)"
            ),
            {"s": slot, "k": key, "p": person, "now": datetime.now(UTC)},
        )
        connection.execute(
            sa.text("UPDATE booking_slot_capacity SET booked = booked + 1 WHERE slot_id = :s"),
            {"s": slot},
        )
    return 201
