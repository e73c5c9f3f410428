"""Each facility against its peers in the month's settled claims: cost per visit, drug share of
the amount, 30-day readmission rate; the peers' quartiles and Tukey's fences. Pure.

- Peers are the facilities of one group: hospitals of one level (一级/二级/三级 医院), else
  facilities of one kind (社区卫生服务中心, 村卫生室, ...).
- A visit is an encounter a claim's line names, or the claim itself for a line naming none.
- An admission is an inpatient encounter the month's claims name; it is a readmission when the
  same person left an inpatient stay at the same facility at most 30 days before it began.
- Quartiles interpolate linearly between ranks (Excel's QUARTILE.INC); a facility is flagged
  beyond Q3 + 1.5 IQR (high) or below Q1 - 1.5 IQR (low), and only in a group of at least
  :data:`MIN_PEERS` facilities (fewer give no meaningful quartiles).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from hub.region.facilities import LEVELS, Facility, FacilityKind
from insurance.claims_audit.view import Claim, Encounter

READMISSION_DAYS = 30
FENCE = Decimal("1.5")
MIN_PEERS = 4
HUNDRED = Decimal(100)
UNREGISTERED = "未登记 unregistered"


class Metric(StrEnum):
    COST_PER_VISIT = "cost-per-visit"
    DRUG_SHARE = "drug-share"
    READMISSION_RATE = "readmission-rate"


METRIC_LABEL: dict[Metric, str] = {
    Metric.COST_PER_VISIT: "次均费用 Cost per visit (CNY)",
    Metric.DRUG_SHARE: "药占比 Drug share of the amount (%)",
    Metric.READMISSION_RATE: "30天再入院率 30-day readmission rate (%)",
}


class Flag(StrEnum):
    HIGH = "high"
    LOW = "low"
    NONE = ""
    FEW_PEERS = "few-peers"


@dataclass(frozen=True)
class FacilityFacts:
    code: str
    name: str
    district_code: str
    district: str
    peer_group: str  # e.g. 三级医院, 社区卫生服务中心
    group_code: str  # the same as a code: hospital-3, community_center


def facility_facts(facility: Facility) -> FacilityFacts:
    if facility.kind is FacilityKind.HOSPITAL and facility.level:
        group, code = f"{facility.level}医院", f"hospital-{LEVELS[facility.level]}"
    else:
        group, code = facility.kind.label, facility.kind.value
    return FacilityFacts(
        facility.code, facility.name, facility.district_code, facility.district, group, code
    )


def unregistered(code: str) -> FacilityFacts:
    return FacilityFacts(code, code, "", UNREGISTERED, UNREGISTERED, "unregistered")


@dataclass(frozen=True)
class FacilityMetrics:
    facility: str
    claims: int
    visits: int
    amount_fen: int
    drug_fen: int
    admissions: int
    readmissions: int

    def value(self, metric: Metric) -> Decimal | None:
        """Cost per visit in yuan, the shares in percent; None when there is nothing to divide."""
        if metric is Metric.COST_PER_VISIT:
            return Decimal(self.amount_fen) / self.visits / HUNDRED if self.visits else None
        if metric is Metric.DRUG_SHARE:
            return Decimal(self.drug_fen) * HUNDRED / self.amount_fen if self.amount_fen else None
        if not self.admissions:
            return None
        return Decimal(self.readmissions) * HUNDRED / self.admissions


def is_readmission(stay: Encounter, stays: Iterable[Encounter]) -> bool:
    """Whether ``stay`` began at most :data:`READMISSION_DAYS` days (by date, as the
    split-admission rule counts) after the same person left another inpatient stay at the same
    facility."""
    return any(
        other.id != stay.id
        and other.inpatient
        and other.person == stay.person
        and other.facility == stay.facility
        and other.end is not None
        and other.end <= stay.start
        and (stay.start.date() - other.end.date()).days <= READMISSION_DAYS
        for other in stays
    )


def facility_metrics(
    claims: Iterable[Claim], encounters: Iterable[Encounter], drug_codes: Collection[str]
) -> list[FacilityMetrics]:
    """One row per facility with claims, by facility code. ``encounters`` holds the claims'
    encounters and the same persons' earlier stays (for readmissions)."""
    known = list(encounters)
    by_id = {e.id: e for e in known}
    of_facility: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        of_facility[claim.facility].append(claim)
    rows = []
    for facility, own in sorted(of_facility.items()):
        lines = [(c, line) for c in own for line in c.lines]
        stays = {
            e.id: e
            for c in own
            for e in (by_id.get(ref) for ref in c.encounters)
            if e is not None and e.inpatient and e.facility == facility
        }
        rows.append(
            FacilityMetrics(
                facility=facility,
                claims=len(own),
                visits=len({line.scope(c.id) for c, line in lines}),
                amount_fen=sum(line.amount_fen for _, line in lines),
                drug_fen=sum(line.amount_fen for _, line in lines if line.code in drug_codes),
                admissions=len(stays),
                readmissions=sum(is_readmission(s, known) for s in stays.values()),
            )
        )
    return rows


def quantile(ordered: Sequence[Decimal], fraction: Decimal) -> Decimal:
    """Linear interpolation between ranks of sorted ``ordered`` (numpy's default)."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = int(position)
    if low + 1 >= len(ordered):
        return ordered[-1]
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class PeerStats:
    count: int
    q1: Decimal
    median: Decimal
    q3: Decimal

    @property
    def upper_fence(self) -> Decimal:
        return self.q3 + FENCE * (self.q3 - self.q1)

    @property
    def lower_fence(self) -> Decimal:
        return self.q1 - FENCE * (self.q3 - self.q1)

    def flag(self, value: Decimal) -> Flag:
        if self.count < MIN_PEERS:
            return Flag.FEW_PEERS
        if value > self.upper_fence:
            return Flag.HIGH
        if value < self.lower_fence:
            return Flag.LOW
        return Flag.NONE


def peer_stats(values: Iterable[Decimal]) -> PeerStats:
    ordered = sorted(values)
    return PeerStats(
        count=len(ordered),
        q1=quantile(ordered, Decimal("0.25")),
        median=quantile(ordered, Decimal("0.5")),
        q3=quantile(ordered, Decimal("0.75")),
    )


@dataclass(frozen=True)
class PeerPosition:
    metric: Metric
    facility: FacilityFacts
    value: Decimal
    stats: PeerStats
    flag: Flag


def peer_positions(
    metrics: Iterable[FacilityMetrics], facilities: Mapping[str, FacilityFacts]
) -> list[PeerPosition]:
    """Each facility's value of each metric against its group's, by metric, group, then the
    highest value first (a facility without a value for a metric is left out of it)."""
    rows = list(metrics)
    positions: list[PeerPosition] = []
    for metric in Metric:
        groups: dict[str, list[tuple[FacilityFacts, Decimal]]] = defaultdict(list)
        for row in rows:
            value = row.value(metric)
            if value is not None:
                facts = facilities.get(row.facility) or unregistered(row.facility)
                groups[facts.peer_group].append((facts, value))
        for group in sorted(groups):
            stats = peer_stats(v for _, v in groups[group])
            ranked = sorted(groups[group], key=lambda fv: (-fv[1], fv[0].code))
            positions.extend(PeerPosition(metric, f, v, stats, stats.flag(v)) for f, v in ranked)
    return positions
