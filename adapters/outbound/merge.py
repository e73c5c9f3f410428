"""ADT^A40 after a merge in the patient index, to every facility holding a record of either
person.

Subscribed (in ``hub.wiring``) to the patient index's :class:`PersonsMerged`, which
``hub.mpi.stewardship.link_changes.merge_persons`` publishes right after the merge, in its
transaction. For each facility with an HL7 v2 endpoint the message is written from that facility's
side: PID-3 carries its numbers that stay with the surviving person and the survivor's enterprise
id; MRG-1 the numbers that moved in with the merged person and that person's (now retired)
enterprise id. Names and birth date come from one of the surviving person's Patient records (the
facility's own when it has one). The idempotency key is the merge id, so a merge announces
itself once per facility. Undoing a merge sends nothing yet (no A37 on the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.outbound.endpoints import has_endpoint
from adapters.outbound.models import Channel
from adapters.outbound.outbox import OutboundMessage, enqueue
from adapters.outbound.resources import hl7_facility_name, load_resource
from adapters.outbound.v2_content import patient_data
from adapters.outbound.v2_messages import (
    HUB_AUTHORITY,
    Cx,
    Header,
    PatientData,
    build_a40,
    control_id_for,
)
from hub.mpi.events import PersonsMerged
from hub.mpi.models import LinkEventRow, PersonRow, SourceRow
from hub.security.fields import FieldCipher

EVENT = "ADT^A40"


def _numbers(sources: list[SourceRow], facility: str) -> list[Cx]:
    return [
        Cx(s.source_id, facility, "MR")
        for s in sources
        if s.facility == facility and not s.source_id.startswith("Patient/")
    ]


def _demographics(
    session: Session, cipher: FieldCipher, kept: list[SourceRow], facility: str
) -> PatientData:
    ordered = sorted(kept, key=lambda s: (s.facility != facility, s.id))
    for source in ordered:
        if source.patient_id:
            patient = load_resource(session, cipher, "Patient", source.patient_id)
            if patient is not None:
                return patient_data(patient)
    return PatientData(())


def announce_merge(session: Session, cipher: FieldCipher, merge_id: int) -> int:
    """Enqueue the ADT^A40 messages of merge ``merge_id``; returns how many were enqueued."""
    header = session.get(LinkEventRow, merge_id)
    if header is None or header.from_person is None or header.to_person is None:
        return 0
    merged = session.get(PersonRow, header.from_person)
    survivor = session.get(PersonRow, header.to_person)
    if merged is None or survivor is None:
        return 0
    moved_ids = set(
        session.execute(
            select(LinkEventRow.source_row).where(
                LinkEventRow.action == "merge",
                LinkEventRow.from_person == header.from_person,
                LinkEventRow.to_person == header.to_person,
                LinkEventRow.at == header.at,
                LinkEventRow.source_row.is_not(None),
            )
        ).scalars()
    )
    sources = list(
        session.execute(
            select(SourceRow).where(SourceRow.person_id == survivor.id).order_by(SourceRow.id)
        ).scalars()
    )
    moved = [s for s in sources if s.id in moved_ids]
    kept = [s for s in sources if s.id not in moved_ids]
    count = 0
    for facility in sorted({s.facility for s in sources}):
        if not has_endpoint(session, cipher, facility, Channel.HL7V2):
            continue
        key = f"{facility}|{EVENT}|merge/{merge_id}"
        person = _demographics(session, cipher, kept, facility)
        surviving = PatientData(
            (*_numbers(kept, facility), Cx(survivor.enterprise_id, HUB_AUTHORITY, "PN")),
            person.family, person.given, person.birth_date, person.gender,
        )  # fmt: skip
        prior = (*_numbers(moved, facility), Cx(merged.enterprise_id, HUB_AUTHORITY, "PN"))
        message_header = Header(
            hl7_facility_name(session, cipher, facility), control_id_for(key), datetime.now(UTC)
        )
        text = build_a40(message_header, surviving, prior)
        message = OutboundMessage(
            facility, Channel.HL7V2, EVENT, f"merge/{merge_id}", key, text.encode()
        )
        count += enqueue(session, cipher, message)
    return count


def on_persons_merged(session: Session, cipher: FieldCipher, event: PersonsMerged) -> None:
    announce_merge(session, cipher, event.merge_id)
