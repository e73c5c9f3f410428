"""What the patient index announces to the rest of the hub (see :mod:`hub.events`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonsMerged:
    """A steward merged two persons; ``merge_id`` is the merge's link event."""

    merge_id: int
