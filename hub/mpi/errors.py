"""Errors of the patient index's stewardship, rendered as OperationOutcome at the API edge.

FhirError (hub.errors)
 +-- InvalidRequest    400  ReasonRequired, InvalidLinkRequest
 +-- NotFound          404  PersonNotFound, SourceNotFound, ReviewNotFound, MergeNotFound
 +-- Conflict          409  ReviewClaimed, ReviewClosed, LinkConflict, UndoRefused

Messages name hub-minted ids (enterprise ids, review and event numbers) only, never a
patient's data or a facility's local patient number.
"""

from __future__ import annotations

from hub.errors import Conflict, InvalidRequest, NotFound


class ReasonRequired(InvalidRequest):
    def __init__(self) -> None:
        super().__init__("a reason is required for every link change", expression=["reason"])


class InvalidLinkRequest(InvalidRequest):
    pass


class PersonNotFound(NotFound):
    def __init__(self, enterprise_id: str) -> None:
        super().__init__(f"no person with enterprise id {enterprise_id[:32]!r}")


class SourceNotFound(NotFound):
    def __init__(self, facility: str) -> None:
        super().__init__(f"no source record of facility {facility[:64]!r} with that source id")


class ReviewNotFound(NotFound):
    def __init__(self, review_id: int) -> None:
        super().__init__(f"no review item {review_id}")


class MergeNotFound(NotFound):
    def __init__(self, event_id: int) -> None:
        super().__init__(f"no merge with id {event_id}")


class ReviewClaimed(Conflict):
    def __init__(self, review_id: int) -> None:
        super().__init__(f"review item {review_id} is claimed by another steward")


class ReviewClosed(Conflict):
    def __init__(self, review_id: int) -> None:
        super().__init__(f"review item {review_id} is already resolved")


class LinkConflict(Conflict):
    pass


class UndoRefused(Conflict):
    pass
