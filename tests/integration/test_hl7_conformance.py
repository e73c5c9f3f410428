"""Conformance over the shared HL7 v2 corpus, sent over MLLP to a running gateway.

Every message of ../shared/corpus/hl7v2 (read in place) is sent as its own frame. So that the
corpus can play a registered facility, MSH-4 is set to facility H001's HL7 name and MSH-10 made
unique per message (several corpus files reuse control ids); nothing else is changed, so
malformed envelopes stay malformed. Each message must get an ACK; AA ones must end processed
with resources written; AE/AR ones must carry an ERR saying what is wrong and be kept as sent.
"""

from __future__ import annotations

import pytest

from adapters.hl7v2.models import MessageStatus
from adapters.hl7v2.parse import parse_message, split_messages
from tests.corpus import HL7_CORPUS
from tests.integration.hl7_harness import inbox_rows, msa, running_gateway, wait_processed

CORPUS = HL7_CORPUS
FACILITY, HL7_NAME = "H001", "YC_H001"


def _corpus_messages() -> list[tuple[str, bytes]]:
    messages = []
    for path in sorted(CORPUS.glob("*/*")):
        if path.suffix not in (".hl7", ".txt"):
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
        for index, message in enumerate(split_messages(text)):
            name = f"{path.parent.name}/{path.name}#{index}"
            messages.append((name, _as_facility(message, len(messages))))
    return messages


def _as_facility(message: str, number: int) -> bytes:
    if message.startswith("MSH") and len(message) > 8:
        separator = message[3]
        head, _, rest = message.partition("\r")
        fields = head.split(separator)
        if len(fields) > 9:
            fields[3] = HL7_NAME
            fields[9] = f"{fields[9]}-c{number}"
            message = separator.join(fields) + ("\r" + rest if rest else "")
    return message.encode("utf-8", errors="surrogateescape")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_every_corpus_message_is_answered_and_none_is_lost(database: str) -> None:
    corpus = _corpus_messages()
    assert len(corpus) > 200
    before = len(inbox_rows())
    with running_gateway() as gateway:
        acks = gateway.send(*(raw for _, raw in corpus))
        accepted: set[str] = set()
        for (name, _raw), ack in zip(corpus, acks, strict=True):
            code, control_id = msa(ack)
            assert code in ("AA", "AE", "AR", "CA", "CE", "CR"), name
            text = ack.decode()
            if code in ("AA", "CA"):
                accepted.add(control_id)
                assert "\rERR|" not in text, name
            else:
                assert "\rERR|" in text, f"{name}: a refusal must say why"
        processed = wait_processed(FACILITY, accepted)
    rows = inbox_rows()
    assert len(rows) - before == len(corpus)  # every frame kept, refused ones too
    dead = [r for r in processed if r.status != MessageStatus.PROCESSED.value]
    assert not dead, [(r.message_type, r.error) for r in dead][:5]
    assert all(r.resources for r in processed)
    refused = [r for r in rows[before:] if r.status == MessageStatus.REJECTED.value]
    assert all(r.raw and r.error for r in refused)
    assert len(accepted) >= 100  # most of the corpus is supported ADT/ORU/SIU/REF/RDE/DFT


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}")
def test_unsupported_and_malformed_corpus_messages_name_the_problem(database: str) -> None:
    corpus = dict(_corpus_messages())
    vxu = next(raw for name, raw in corpus.items() if "vxu" in name.lower())
    bad_msh = corpus["crs4_hl7apy/test_parser_L0187_m.hl7#0"]
    with running_gateway() as gateway:
        vxu_ack, bad_ack = gateway.send(vxu, bad_msh)
    err = parse_message(vxu_ack.decode()).first("ERR")
    assert msa(vxu_ack)[0] in ("AR", "CR") and err is not None
    assert (err.get(3, 1) or err.get(1, 4, 1)) in ("200", "201")  # v2.5+ ERR-3, older ERR-1.4
    assert msa(bad_ack)[0] == "AR"
    assert "MSH" in bad_ack.decode().split("\rERR|", 1)[1]
