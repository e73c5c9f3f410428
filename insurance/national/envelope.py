"""The national platform's message envelope (国家医保信息平台 接口规范 §1), parsed and answered.

Pure: no I/O. A request carries ``infno`` (the transaction), ``msgid`` (the sender's message
id, which keys exactly-once), the two region codes, ``fixmedins_code`` (the calling facility)
and ``input`` (an object keyed by node name: ``data``, ``feedetail``, ...). The answer is
``infcode`` (0 success, -1 failure), ``err_msg`` and ``output``. Field names and lengths follow
the public client implementations summarised in /work/shared/reference.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from insurance.money import to_fen, yuan

SUCCESS = 0
FAILURE = -1
REGION_TZ = ZoneInfo("Asia/Shanghai")  # the platform's times are local, without a zone


class NationalError(ValueError):
    """A message the platform answers with ``infcode`` -1; the text becomes ``err_msg``."""


class Envelope(BaseModel):
    """The request envelope; unknown fields (cainfo, signtype, dev_no, ...) are tolerated."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    # C4 in one source, C6 in another: "2203A" needs 5, so accept up to 6.
    infno: str = Field(min_length=4, max_length=6)
    msgid: str = Field(min_length=1, max_length=30)
    mdtrtarea_admvs: str = Field(min_length=1, max_length=6)
    insuplc_admdvs: str = Field(default="", max_length=6)
    fixmedins_code: str = Field(min_length=1, max_length=30)
    fixmedins_name: str = Field(default="", max_length=200)
    opter: str = Field(default="", max_length=30)
    inf_time: str = ""
    input: dict[str, Any]


def parse_envelope(raw: bytes) -> Envelope:
    """The envelope of a request body, or :class:`NationalError` naming what is wrong."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise NationalError("the request is not JSON") from None
    if not isinstance(body, dict):
        raise NationalError("the request must be a JSON object (the envelope)")
    try:
        return Envelope.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise NationalError(f"malformed envelope: {where}: {first['msg']}") from None


def digest(envelope: Envelope) -> str:
    """What the message asks (transaction, facility, input), to tell a retry from a replay."""
    body = {"infno": envelope.infno, "fixmedins": envelope.fixmedins_code, "in": envelope.input}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _stamp(now: datetime) -> str:
    return now.astimezone(REGION_TZ).strftime("%Y%m%d%H%M%S%f")[:17]


def local_datetime(value: str) -> str:
    """The platform's ``yyyy-MM-dd HH:mm:ss`` (local time) as a FHIR dateTime."""
    try:
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise NationalError(f"{value!r} is not yyyy-MM-dd HH:mm:ss") from None
    return moment.replace(tzinfo=REGION_TZ).isoformat()


def answer(
    envelope_admvs: str, now: datetime, output: dict[str, Any] | None, error: str | None = None
) -> dict[str, Any]:
    """The response envelope: ``output`` on success, ``err_msg`` (and no output) on failure."""
    stamp = _stamp(now)
    return {
        "infcode": SUCCESS if error is None else FAILURE,
        "inf_refmsgid": f"{envelope_admvs[:6]:0>6}{stamp[:14]}{stamp[14:]:0>10}",
        "refmsg_time": stamp,
        "respond_time": stamp,
        "err_msg": error or "",
        "output": output if error is None else None,
    }


def node(envelope: Envelope, name: str) -> dict[str, Any]:
    found = envelope.input.get(name)
    if not isinstance(found, dict):
        raise NationalError(f"input.{name} is required (an object)")
    return found


def node_list(envelope: Envelope, name: str) -> list[dict[str, Any]]:
    found = envelope.input.get(name)
    if isinstance(found, dict):  # some vendors send a one-row list as an object
        found = [found]
    if not isinstance(found, list) or not found or not all(isinstance(r, dict) for r in found):
        raise NationalError(f"input.{name} is required (a non-empty list of objects)")
    return found


def text(row: dict[str, Any], name: str, *, max_length: int = 30, required: bool = True) -> str:
    value = row.get(name)
    if value is None or value == "":
        if required:
            raise NationalError(f"{name} is required")
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise NationalError(f"{name} must be a string")
    found = str(value)
    if len(found) > max_length:
        raise NationalError(f"{name} is longer than {max_length} characters")
    return found


def fen(row: dict[str, Any], name: str) -> int:
    """An N(16,2) amount in yuan as integer fen."""
    try:
        return to_fen(row[name])
    except KeyError:
        raise NationalError(f"{name} is required") from None
    except ValueError as exc:
        raise NationalError(f"{name}: {exc}") from None


def whole(row: dict[str, Any], name: str) -> int:
    """An N(16,4) count the settlement core takes whole (``2`` or ``"2.0000"``)."""
    try:
        value = Decimal(str(row[name]))
    except KeyError:
        raise NationalError(f"{name} is required") from None
    except InvalidOperation:
        raise NationalError(f"{name} is not a number") from None
    if value != value.to_integral_value() or value <= 0:
        raise NationalError(f"{name} must be a positive whole number here")
    return int(value)


def amount(value_fen: int) -> float:
    """Fen as the N(16,2) JSON number the platform sends (exact: two decimals)."""
    return float(yuan(value_fen))
