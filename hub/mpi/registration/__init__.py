"""Linking facility records to persons as they arrive.

One record at a time (:mod:`.online`: find candidates, score, link or queue a review), many in
one transaction (:mod:`.batch`, with its pure decisions and its writes), under the hard rule
that two valid resident IDs are two people (:mod:`.id_veto`). The Patient write hook that feeds
the index from the FHIR store is :mod:`.patient_hook`, registered by ``hub.wiring``; it is not
re-exported here because it imports the store.
"""

from hub.mpi.registration.batch import Registration, register_sources
from hub.mpi.registration.online import (
    MAX_CANDIDATES,
    Candidate,
    MatchOutcome,
    find_candidates,
    person_count,
    register_source,
    remove_source,
)

__all__ = [
    "MAX_CANDIDATES", "Candidate", "MatchOutcome", "Registration", "find_candidates",
    "person_count", "register_source", "register_sources", "remove_source",
]  # fmt: skip
