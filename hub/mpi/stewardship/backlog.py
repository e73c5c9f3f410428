"""The patient index's review backlog for ``/metrics``: open reviews and the oldest's age."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.metric_lines import age_seconds, gauge_lines
from hub.mpi.models import ReviewRow

WAITING = ("open", "claimed")


def review_metric_lines(session: Session) -> list[str]:
    counts = dict(
        session.execute(
            select(ReviewRow.status, func.count())
            .where(ReviewRow.status.in_(WAITING))
            .group_by(ReviewRow.status)
        ).all()
    )
    oldest = session.scalar(select(func.min(ReviewRow.created)).where(ReviewRow.status == "open"))
    return [
        *gauge_lines(
            "hub_mpi_reviews",
            "Possible matches waiting for a data steward, by status",
            {f'status="{status}"': counts.get(status, 0) for status in WAITING},
        ),
        *gauge_lines(
            "hub_mpi_review_oldest_age_seconds",
            "Age of the oldest open review",
            {"": age_seconds(oldest)},
        ),
    ]
