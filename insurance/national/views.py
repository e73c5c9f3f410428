"""The national platform's one endpoint: ``POST /fsi/api/rsfComIfsService/callService``.

The path is the one public HIS clients call on the national platform, so a HIS points its
base URL at the hub and changes nothing else. Every answer is the platform's envelope:
``infcode`` 0 with ``output``, or -1 with ``err_msg``; an authorization refusal is also sent
with HTTP 403. The caller is a facility system with purpose HPAYMT whose facility is the
envelope's ``fixmedins_code``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import ORJSONResponse

from hub.deps import CurrentActor, read_body, unit_of_work
from hub.errors import FhirError, Forbidden
from insurance.national.envelope import NationalError, answer, parse_envelope
from insurance.national.service import handle
from insurance.settlement.views import require_cashier

NATIONAL_PATH = "/fsi/api/rsfComIfsService/callService"

router = APIRouter(tags=["Insurance settlement (national platform interface)"])


def _reply(admvs: str, output: dict[str, Any] | None, error: str | None, status: int) -> Any:
    return ORJSONResponse(answer(admvs, datetime.now(UTC), output, error), status_code=status)


@router.post(NATIONAL_PATH, summary="One national transaction (infno) in the platform envelope")
def call_service(actor: CurrentActor, raw: Annotated[bytes, Depends(read_body)]) -> Any:
    admvs = ""
    try:
        envelope = parse_envelope(raw)
        admvs = envelope.mdtrtarea_admvs
        require_cashier(actor)
        if envelope.fixmedins_code != actor.facility:
            raise Forbidden("fixmedins_code is not the facility of the caller's token")
        with unit_of_work(actor) as store:
            output = handle(store, envelope)
    except NationalError as exc:
        return _reply(admvs, None, str(exc), 200)
    except FhirError as exc:
        status = exc.status if exc.status in (401, 403) else 200
        return _reply(admvs, None, str(exc), status)
    return _reply(admvs, output, None, 200)
