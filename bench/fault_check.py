"""What a fault run proves, from what the load driver recorded and what the database holds (pure:
no I/O, so tests/unit/test_stack_faults.py checks it cheaply).

- :func:`recovery`: per channel (HTTP, MLLP, outbound), the error window (first to last failed
  attempt), the first success after the fault, and the failures by kind; times are seconds on
  the run's clock, printed relative to the fault.
- :func:`check`: one family of acknowledged items (FHIR creates that got a 2xx, HL7 messages that
  got AA/CA, notifications): each must be found exactly once. ``lost`` is acknowledged but not
  found (or found under another id than the one the client was given), ``duplicated`` found more
  than once; items only ever refused are neither (the client was told it failed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attempt:
    """One request as the client saw it (a retry of the same item is another attempt)."""

    channel: str  # "http", "mllp", "outbound"
    key: str  # the item: an identifier value or an MSH-10
    started: float  # seconds on the run's clock
    finished: float
    ok: bool
    detail: str  # "201", "AA", "HTTP 502", "MllpTimeout", ...


@dataclass(frozen=True)
class Recovery:
    channel: str
    attempts: int
    successes: int
    errors: int
    first_error: float | None  # seconds after the fault (negative: before it)
    last_error: float | None
    first_success_after_fault: float | None  # the first success of an attempt started after it
    errors_by_kind: dict[str, int]


def recovery(channel: str, attempts: Sequence[Attempt], fault_at: float) -> Recovery:
    mine = [a for a in attempts if a.channel == channel]
    failed = sorted((a for a in mine if not a.ok), key=lambda a: a.finished)
    after = [a.finished for a in mine if a.ok and a.started >= fault_at]
    return Recovery(
        channel=channel,
        attempts=len(mine),
        successes=sum(a.ok for a in mine),
        errors=len(failed),
        first_error=failed[0].finished - fault_at if failed else None,
        last_error=failed[-1].finished - fault_at if failed else None,
        first_success_after_fault=min(after) - fault_at if after else None,
        errors_by_kind=dict(Counter(a.detail for a in failed).most_common()),
    )


@dataclass(frozen=True)
class Check:
    name: str
    acknowledged: int
    found_once: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    excused: list[str] = field(default_factory=list)  # e.g. dead letters, counted apart

    @property
    def passed(self) -> bool:
        return not self.lost and not self.duplicated


def check(
    name: str,
    acknowledged: Mapping[str, str | None],
    found: Mapping[str, Sequence[str]],
    *,
    sent: Iterable[str] = (),
    excused: Iterable[str] = (),
) -> Check:
    """``acknowledged``: item -> the id the client was given (None: no id to compare);
    ``found``: item -> the ids the database holds for it; ``sent``: every item tried, acknowledged
    or not (a refused attempt may still have been stored, but never twice); ``excused``: items
    accounted for elsewhere (a dead letter is counted, not lost)."""
    excused_set = set(excused)
    lost, once, excused_found = [], 0, []
    for item, expected_id in acknowledged.items():
        ids = found.get(item, ())
        if item in excused_set and not ids:
            excused_found.append(item)
        elif not ids or (expected_id is not None and expected_id not in ids):
            lost.append(item)
        elif len(ids) == 1:
            once += 1
    candidates = set(acknowledged) | set(sent)
    duplicated = sorted(item for item in candidates if len(found.get(item, ())) > 1)
    return Check(name, len(acknowledged), once, sorted(lost), duplicated, sorted(excused_found))


@dataclass(frozen=True)
class PhaseResult:
    fault: str
    recoveries: list[Recovery]
    checks: list[Check]
    drained_after: float | None  # seconds from the fault to the backlog drained; None: it did not
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return sum(len(c.lost) for c in self.checks)

    @property
    def duplicated(self) -> int:
        return sum(len(c.duplicated) for c in self.checks)

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.drained_after is not None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f} s"


def report_lines(result: PhaseResult) -> list[str]:
    """The phase's figures as printed (and pasted into bench/README.md)."""
    lines = [f"== {result.fault}: {'PASS' if result.passed else 'FAIL'}"]
    for r in result.recoveries:
        if not r.attempts:
            continue
        kinds = ", ".join(f"{kind} x{n}" for kind, n in r.errors_by_kind.items()) or "none"
        lines.append(
            f"  {r.channel:<8} {r.attempts:>6} attempts, {r.successes:>6} ok, {r.errors:>4} "
            f"errors; error window {_seconds(r.first_error)} to {_seconds(r.last_error)}; "
            f"first success after the fault {_seconds(r.first_success_after_fault)}; "
            f"errors: {kinds}"
        )
    for c in result.checks:
        extra = f", {len(c.excused)} dead letters" if c.excused else ""
        lines.append(
            f"  {c.name:<34} acknowledged {c.acknowledged:>6}, found once {c.found_once:>6}, "
            f"lost {len(c.lost)}, duplicated {len(c.duplicated)}{extra}"
        )
        for label, items in (("lost", c.lost), ("duplicated", c.duplicated)):
            if items:
                lines.append(
                    f"    {label}: {', '.join(items[:10])}{' ...' if len(items) > 10 else ''}"
                )
    lines.append(f"  backlog drained {_seconds(result.drained_after)} after the fault")
    lines += [f"  note: {note}" for note in result.notes]
    lines.append(f"  lost {result.lost}, duplicated {result.duplicated}")
    return lines
