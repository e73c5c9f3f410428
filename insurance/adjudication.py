"""The one adjudication core: policy + year-to-date accumulators + claim items -> the split.

Pure: no I/O. Both interfaces (FHIR ``Claim/$submit`` and, later, the national 2206/2207) call
:func:`adjudicate`. Money is integer fen. For each item, in order:

1. a catalogue class 丙 (C) item is wholly the patient's (``not_covered``);
2. a 乙 (B) item's self-paid share is the patient's first (``self_paid``, rounded down);
3. what remains is ``eligible``; the deductible still open this year takes from it first;
4. the fund pays ``ratio`` of the rest (rounded down), never beyond the cap still open;
5. the patient's part (everything the fund does not pay) comes from the personal account while
   it lasts, the rest is cash.

So per item ``fund + account + cash == submitted`` and
``submitted == not_covered + self_paid + deductible + benefit + copay`` hold exactly, by
construction; the Hypothesis tests in ``tests/unit/test_insurance_adjudication.py`` check them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from insurance.policy import FULL, Benefit, ItemClass, PolicyVersion


class Refusal(StrEnum):
    NOT_IN_CATALOGUE = "not-in-catalogue"
    PRICE_OVER_CEILING = "price-over-ceiling"
    NO_BENEFIT = "no-benefit"
    BAD_ITEM = "bad-item"


class AdjudicationError(ValueError):
    """A claim the policy cannot settle; ``reason`` is a stable code, ``sequence`` the item."""

    def __init__(self, reason: Refusal, message: str, sequence: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.sequence = sequence


class Rule(StrEnum):
    """Which referral or disease rule changed the benefit (said in the ClaimResponse)."""

    STANDARD = "standard"
    UPWARD_REFERRAL = "upward-referral-deductible-counted-once"
    TIER3_WITHOUT_REFERRAL = "tier3-without-referral-lower-ratio"
    CHRONIC_OUTPATIENT = "chronic-disease-outpatient"


@dataclass(frozen=True)
class Accumulators:
    """A person's year so far: deductible used, fund paid (toward the cap), account balance."""

    deductible_used: int = 0
    fund_paid: int = 0
    account_balance: int = 0

    def applied(self, totals: Split) -> Accumulators:
        return Accumulators(
            self.deductible_used + totals.deductible,
            self.fund_paid + totals.fund,
            self.account_balance - totals.account,
        )

    def reversed(self, totals: Split) -> Accumulators:
        """The compensating entry: exactly what :meth:`applied` added, taken back."""
        return Accumulators(
            self.deductible_used - totals.deductible,
            self.fund_paid - totals.fund,
            self.account_balance + totals.account,
        )


@dataclass(frozen=True)
class ClaimLine:
    sequence: int
    code: str
    quantity: int
    unit_price: int  # fen

    @property
    def submitted(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Context:
    scheme_benefit: Benefit
    level: int
    has_upward_referral: bool = False
    chronic_code: str | None = None
    use_account: bool = True


@dataclass(frozen=True)
class Split:
    submitted: int = 0
    not_covered: int = 0  # 丙类 (全自费)
    self_paid: int = 0  # 乙类 先行自付
    eligible: int = 0  # 符合政策范围
    deductible: int = 0
    benefit: int = 0  # = fund
    copay: int = 0  # the patient's share of what is eligible, above the deductible
    account: int = 0
    cash: int = 0

    @property
    def fund(self) -> int:
        return self.benefit

    def __add__(self, other: Split) -> Split:
        return Split(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )


@dataclass(frozen=True)
class Adjudication:
    policy_version: str
    rule: Rule
    ratio_bp: int
    lines: tuple[tuple[ClaimLine, Split], ...]
    total: Split
    before: Accumulators
    after: Accumulators


def _terms(policy: PolicyVersion, context: Context) -> tuple[Rule, int, int]:
    """(rule, deductible, ratio) for this visit."""
    benefit = context.scheme_benefit
    chronic = policy.chronic(context.chronic_code) if context.chronic_code else None
    if chronic is not None:
        return Rule.CHRONIC_OUTPATIENT, 0, chronic.ratio_bp
    effect = policy.referral
    if context.has_upward_referral and effect.upward_referral_waives_deductible:
        return Rule.UPWARD_REFERRAL, 0, benefit.ratio_bp
    if context.level == 3 and not context.has_upward_referral:
        cut = effect.tier3_without_referral_ratio_cut_bp
        if cut:
            return (
                Rule.TIER3_WITHOUT_REFERRAL,
                benefit.deductible_fen,
                max(0, benefit.ratio_bp - cut),
            )
    return Rule.STANDARD, benefit.deductible_fen, benefit.ratio_bp


def check_line(policy: PolicyVersion, line: ClaimLine) -> ItemClass:
    """The item's class, or :class:`AdjudicationError` (unknown code, price over ceiling)."""
    if line.quantity <= 0 or line.unit_price < 0:
        raise AdjudicationError(
            Refusal.BAD_ITEM,
            f"item {line.sequence}: quantity and price must be positive",
            line.sequence,
        )
    item = policy.item(line.code)
    if item is None:
        raise AdjudicationError(
            Refusal.NOT_IN_CATALOGUE,
            f"item {line.sequence}: {line.code} is not in the catalogue ({policy.version})",
            line.sequence,
        )
    if item.price_ceiling_fen is not None and line.unit_price > item.price_ceiling_fen:
        raise AdjudicationError(
            Refusal.PRICE_OVER_CEILING,
            f"item {line.sequence}: unit price {line.unit_price} fen is over the ceiling "
            f"{item.price_ceiling_fen} fen of {line.code}",
            line.sequence,
        )
    return item.item_class


def adjudicate(
    policy: PolicyVersion,
    before: Accumulators,
    lines: list[ClaimLine],
    context: Context,
) -> Adjudication:
    """The split of ``lines`` per item and in total, and the accumulators it leaves."""
    classes = [check_line(policy, line) for line in lines]  # refuse before splitting anything
    rule, deductible, ratio = _terms(policy, context)
    deductible_left = max(0, deductible - before.deductible_used)
    cap_left = max(0, context.scheme_benefit.annual_cap_fen - before.fund_paid)
    account_left = max(0, before.account_balance) if context.use_account else 0
    results: list[tuple[ClaimLine, Split]] = []
    for line, item_class in zip(lines, classes, strict=True):
        submitted = line.submitted
        not_covered = submitted if item_class is ItemClass.C else 0
        share = policy.class_b_self_paid_bp if item_class is ItemClass.B else 0
        self_paid = (submitted - not_covered) * share // FULL
        eligible = submitted - not_covered - self_paid
        taken = min(eligible, deductible_left)
        benefit = min((eligible - taken) * ratio // FULL, cap_left)
        copay = eligible - taken - benefit
        patient_part = submitted - benefit
        account = min(patient_part, account_left)
        deductible_left -= taken
        cap_left -= benefit
        account_left -= account
        split = Split(
            submitted=submitted,
            not_covered=not_covered,
            self_paid=self_paid,
            eligible=eligible,
            deductible=taken,
            benefit=benefit,
            copay=copay,
            account=account,
            cash=patient_part - account,
        )
        results.append((line, split))
    total = sum((split for _, split in results), Split())
    return Adjudication(
        policy_version=policy.version,
        rule=rule,
        ratio_bp=ratio,
        lines=tuple(results),
        total=total,
        before=before,
        after=before.applied(total),
    )


@dataclass(frozen=True)
class Remaining:
    deductible: int  # still to pay before the fund pays
    cap: int  # the fund may still pay this much this year
    account_balance: int


def remaining(benefit: Benefit, accumulators: Accumulators) -> Remaining:
    """What is left this year (the eligibility answer)."""
    return Remaining(
        deductible=max(0, benefit.deductible_fen - accumulators.deductible_used),
        cap=max(0, benefit.annual_cap_fen - accumulators.fund_paid),
        account_balance=accumulators.account_balance,
    )
