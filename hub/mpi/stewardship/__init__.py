"""Stewardship of the patient index: the review queue and manual link changes.

:mod:`.reviews` (claim, resolve), :mod:`.link_changes` (link, unlink, split, merge, undo),
both on the primitive of :mod:`.links` (moving sources between persons, with link events) and
read back by :mod:`.history`; :mod:`.comparison` shows why a review item's pair scored what it
did. The JSON API is :mod:`.views`, mounted by the app.
"""

from hub.mpi.stewardship.comparison import RecordRef, ReviewComparison, review_comparison
from hub.mpi.stewardship.history import PersonLinks, SourcePerson, person_links, source_link
from hub.mpi.stewardship.link_changes import (
    LinkResult,
    MergeResult,
    link_source,
    merge_persons,
    split_person,
    undo_merge,
    unlink_source,
)
from hub.mpi.stewardship.links import find_source
from hub.mpi.stewardship.reviews import (
    MAX_PAGE,
    ReviewItem,
    ReviewPage,
    claim_review,
    list_reviews,
    resolve_review,
    review_item,
)
from hub.mpi.stewardship.roles import require_reader, require_steward

__all__ = [
    "MAX_PAGE",
    "LinkResult",
    "MergeResult",
    "PersonLinks",
    "RecordRef",
    "ReviewComparison",
    "ReviewItem",
    "ReviewPage",
    "SourcePerson",
    "claim_review",
    "find_source",
    "link_source",
    "list_reviews",
    "merge_persons",
    "person_links",
    "require_reader",
    "require_steward",
    "resolve_review",
    "review_comparison",
    "review_item",
    "source_link",
    "split_person",
    "undo_merge",
    "unlink_source",
]  # fmt: skip
