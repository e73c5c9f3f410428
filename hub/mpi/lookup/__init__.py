"""Reading the patient index: ``$match``, person search, golden records, PIXm, same person.

The HTTP interfaces (``Patient/$match``, PIXm, PDQm) are :mod:`.views`, mounted by the app.
"""

from hub.mpi.lookup.queries import (
    CrossReference,
    MatchGrade,
    MatchResult,
    PersonHit,
    PersonRecord,
    PixmError,
    cross_reference,
    match_patient,
    read_person,
    search_persons,
)
from hub.mpi.lookup.same_person import (
    linked_patient_ids,
    person_of,
    recording_facilities,
    records_linked_to,
    same_person_pairs,
    same_person_records,
)

__all__ = [
    "CrossReference", "MatchGrade", "MatchResult", "PersonHit", "PersonRecord", "PixmError",
    "cross_reference", "linked_patient_ids", "match_patient", "person_of", "read_person",
    "recording_facilities", "records_linked_to", "same_person_pairs", "same_person_records",
    "search_persons",
]  # fmt: skip
