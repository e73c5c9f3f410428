"""Bytes to text as the sender declared them: MSH-18 decides, not a guess.

Real feeds send a UTF-8 byte-order mark, GB 18030 (whose second bytes may equal ``|`` or ``^``,
so a message must be decoded *before* it is split) and sometimes no MSH-18 at all. MSH-18 is read
from the raw bytes of the MSH segment, whose fields up to MSH-18 are ASCII in every feed we know;
the facility's configured default applies when MSH-18 is empty.
"""

from __future__ import annotations

import codecs

from adapters.hl7v2.errors import ErrorCode, Hl7Reject

UTF8_BOM = codecs.BOM_UTF8

# HL7 table 0211 names (and the spellings Chinese vendors send) -> Python codecs. GB 2312 and
# GBK are subsets of GB 18030, so decoding them as GB 18030 is exact and tolerant of senders
# that declare GB2312 but use GBK characters (common in hospital systems).
_CODECS: dict[str, str] = {
    "ASCII": "ascii",
    "US-ASCII": "ascii",
    "8859/1": "latin-1",
    "ISO-8859-1": "latin-1",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "UTF8": "utf-8",
    "UNICODE": "utf-8",
    "GB 18030-2000": "gb18030",
    "GB 18030-2005": "gb18030",
    "GB18030": "gb18030",
    "GB 18030": "gb18030",
    "GB2312": "gb18030",
    "GB 2312": "gb18030",
    "GB 2312-80": "gb18030",
    "GBK": "gb18030",
    "BIG-5": "big5",
    "BIG5": "big5",
    "CNS 11643-1992": "big5",
}


def codec_for(name: str) -> str:
    """The Python codec for an MSH-18 value; an unknown name is an AR."""
    codec = _CODECS.get(name.strip().upper())
    if codec is None:
        raise Hl7Reject(
            f"character set {name[:40]!r} in MSH-18 is not supported; use UNICODE UTF-8 "
            "or GB 18030-2000",
            code=ErrorCode.TABLE_VALUE_NOT_FOUND,
            location="MSH-18",
        )
    return codec


def declared_charset(raw: bytes) -> str:
    """MSH-18's first repetition, read from the raw MSH bytes ('' when absent)."""
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return ""
    end = len(raw)
    for terminator in (b"\r", b"\n"):
        position = raw.find(terminator, start)
        if 0 <= position < end:
            end = position
    msh = raw[start:end]
    separator = msh[3:4]
    fields = msh.split(separator)
    # fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n sits at fields[n - 1].
    if len(fields) < 18:
        return ""
    repetition, component = msh[5:6], msh[4:5]
    value = fields[17].split(repetition)[0].split(component)[0]
    return value.decode("ascii", errors="replace").strip()


def decode_message(raw: bytes, default_charset: str = "UNICODE UTF-8") -> tuple[str, str]:
    """Text of a message and the charset name it was decoded with.

    A byte-order mark is dropped (it is UTF-8's; a declared non-UTF-8 charset with a BOM is a
    contradiction and refused). Bytes that do not decode in the declared charset are an AR that
    names the charset, never a silent replacement: a mangled name would link the wrong person.
    """
    has_bom = raw.startswith(UTF8_BOM)
    if has_bom:
        raw = raw[len(UTF8_BOM) :]
    declared = declared_charset(raw)
    name = declared or default_charset
    codec = codec_for(name)
    if has_bom and codec not in ("utf-8", "ascii"):
        raise Hl7Reject(
            f"the message starts with a UTF-8 byte-order mark but MSH-18 declares {name!r}",
            code=ErrorCode.TABLE_VALUE_NOT_FOUND,
            location="MSH-18",
        )
    if has_bom:
        codec = "utf-8"
    try:
        return raw.decode(codec), name
    except UnicodeDecodeError as exc:
        where = "MSH-18" if declared else "MSH-18 (empty, facility default applied)"
        raise Hl7Reject(
            f"byte {exc.start} is not valid {name}; the message's bytes do not match the "
            f"character set in {where}",
            code=ErrorCode.TABLE_VALUE_NOT_FOUND,
            location="MSH-18",
        ) from None
