"""The adjudication core: worked examples, refusals, and Hypothesis properties over random
claims and policies (sums exact, nothing negative, cap kept, deductible monotone, reversal)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insurance.adjudication import (
    Accumulators,
    AdjudicationError,
    ClaimLine,
    Context,
    Refusal,
    Rule,
    adjudicate,
    remaining,
)
from insurance.policy import (
    Benefit,
    CatalogueItem,
    ItemClass,
    ItemKind,
    PolicyVersion,
    ReferralEffect,
    Scheme,
    load_policy,
)

TODAY = date(2026, 3, 1)


def _item(code: str, item_class: ItemClass, ceiling: int | None = None) -> CatalogueItem:
    return CatalogueItem.model_validate(
        {
            "code": code,
            "name": code,
            "kind": ItemKind.SERVICE,
            "class": item_class,
            "unit_price_fen": 100,
            "price_ceiling_fen": ceiling,
        }
    )


def _policy(deductible: int, ratio: int, cap: int, share: int, cut: int = 0) -> PolicyVersion:
    return PolicyVersion(
        version="T",
        effective_from=date(2026, 1, 1),
        class_b_self_paid_bp=share,
        benefits=tuple(
            Benefit(
                scheme=Scheme.UEBMI,
                level=level,
                deductible_fen=deductible,
                ratio_bp=ratio,
                annual_cap_fen=cap,
            )
            for level in range(4)
        ),
        referral=ReferralEffect(tier3_without_referral_ratio_cut_bp=cut),
        catalogue=(
            _item("A1", ItemClass.A),
            _item("B1", ItemClass.B),
            _item("C1", ItemClass.C),
            _item("A2", ItemClass.A, ceiling=5_000),
        ),
    )


def _context(policy: PolicyVersion, level: int = 2, **kw: object) -> Context:
    benefit = policy.benefit(Scheme.UEBMI, level)
    assert benefit is not None
    return Context(scheme_benefit=benefit, level=level, **kw)  # type: ignore[arg-type]


def test_worked_example_splits_as_the_policy_says() -> None:
    policy = _policy(deductible=10_000, ratio=8_000, cap=1_000_000, share=1_000)
    lines = [
        ClaimLine(1, "A1", 2, 10_000),  # 200 yuan, class A
        ClaimLine(2, "B1", 1, 5_000),  # 50 yuan, class B: 10 % self-paid first
        ClaimLine(3, "C1", 1, 3_000),  # 30 yuan, class C: not covered
    ]
    result = adjudicate(policy, Accumulators(account_balance=2_000), lines, _context(policy))
    first, second, third = (split for _, split in result.lines)
    assert (first.deductible, first.benefit, first.copay) == (10_000, 8_000, 2_000)
    assert (second.self_paid, second.eligible, second.benefit, second.copay) == (
        500,
        4_500,
        3_600,
        900,
    )
    assert (third.not_covered, third.benefit) == (3_000, 0)
    assert first.account == 2_000 and second.account == 0  # the account runs out on item 1
    assert result.total.fund == 11_600
    assert result.total.submitted == 28_000
    assert result.after == Accumulators(10_000, 11_600, 0)
    assert result.rule is Rule.STANDARD


def test_the_cap_limits_the_fund() -> None:
    policy = _policy(deductible=0, ratio=10_000, cap=50_000, share=0)
    before = Accumulators(fund_paid=45_000)
    result = adjudicate(policy, before, [ClaimLine(1, "A1", 1, 20_000)], _context(policy))
    assert result.total.fund == 5_000
    assert result.after.fund_paid == 50_000


def test_referral_rules() -> None:
    policy = _policy(deductible=10_000, ratio=8_000, cap=10**9, share=0, cut=2_000)
    lines = [ClaimLine(1, "A1", 1, 20_000)]
    referred = adjudicate(
        policy, Accumulators(), lines, _context(policy, level=3, has_upward_referral=True)
    )
    assert referred.rule is Rule.UPWARD_REFERRAL and referred.total.deductible == 0
    assert referred.total.fund == 16_000
    walked_in = adjudicate(policy, Accumulators(), lines, _context(policy, level=3))
    assert walked_in.rule is Rule.TIER3_WITHOUT_REFERRAL and walked_in.ratio_bp == 6_000
    assert walked_in.total.fund == 6_000  # (200 - 100 deductible) * 60 %


def test_chronic_disease_outpatient_has_its_own_ratio() -> None:
    policy = load_policy().on(TODAY)
    benefit = policy.benefit(Scheme.URRBMI, 2)
    assert benefit is not None
    context = Context(scheme_benefit=benefit, level=2, chronic_code="I10")
    code = next(i.code for i in policy.catalogue if i.item_class is ItemClass.A)
    price = policy.item(code).unit_price_fen  # type: ignore[union-attr]
    result = adjudicate(policy, Accumulators(), [ClaimLine(1, code, 10, price)], context)
    assert result.rule is Rule.CHRONIC_OUTPATIENT and result.total.deductible == 0
    assert result.total.fund == 10 * price * 8_000 // 10_000


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (ClaimLine(1, "NOPE", 1, 100), Refusal.NOT_IN_CATALOGUE),
        (ClaimLine(1, "A2", 1, 5_001), Refusal.PRICE_OVER_CEILING),
        (ClaimLine(1, "A1", 0, 100), Refusal.BAD_ITEM),
    ],
)
def test_refusals_name_the_item(line: ClaimLine, reason: Refusal) -> None:
    policy = _policy(deductible=0, ratio=5_000, cap=10**6, share=0)
    with pytest.raises(AdjudicationError) as caught:
        adjudicate(policy, Accumulators(), [ClaimLine(2, "A1", 1, 100), line], _context(policy))
    assert caught.value.reason is reason and caught.value.sequence == 1


def test_the_sample_policy_is_labelled_and_versioned() -> None:
    policy = load_policy()
    assert policy.sample and "SAMPLE" in policy.note
    assert policy.on(date(2025, 6, 1)).version != policy.on(TODAY).version
    with pytest.raises(LookupError):
        policy.on(date(2000, 1, 1))


money = st.integers(min_value=0, max_value=5_000_000)
policies = st.builds(
    _policy,
    deductible=money,
    ratio=st.integers(0, 10_000),
    cap=money,
    share=st.integers(0, 10_000),
    cut=st.integers(0, 10_000),
)
lines = st.lists(
    st.builds(
        ClaimLine,
        sequence=st.integers(1, 99),
        code=st.sampled_from(["A1", "B1", "C1", "A2"]),
        quantity=st.integers(1, 50),
        unit_price=st.integers(0, 5_000),
    ),
    min_size=1,
    max_size=12,
)
accumulators = st.builds(Accumulators, money, money, money)
contexts = st.fixed_dictionaries(
    {
        "level": st.integers(0, 3),
        "has_upward_referral": st.booleans(),
        "use_account": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(policies, accumulators, lines, contexts)
def test_every_split_sums_exactly_and_nothing_is_negative(
    policy: PolicyVersion, before: Accumulators, claim: list[ClaimLine], ctx: dict[str, Any]
) -> None:
    result = adjudicate(policy, before, claim, _context(policy, **ctx))
    for line, split in result.lines:
        assert split.fund + split.account + split.cash == line.submitted
        parts = split.not_covered + split.self_paid + split.deductible + split.benefit
        assert parts + split.copay == line.submitted
        assert min(vars(split).values()) >= 0
    total = result.total
    assert total.submitted == sum(line.submitted for line in claim)
    assert total.fund + total.account + total.cash == total.submitted
    assert result.after.account_balance >= 0 or total.account == 0


@settings(max_examples=300, deadline=None)
@given(policies, accumulators, lines, contexts)
def test_cap_and_deductible_are_never_exceeded(
    policy: PolicyVersion, before: Accumulators, claim: list[ClaimLine], ctx: dict[str, Any]
) -> None:
    context = _context(policy, **ctx)
    benefit = context.scheme_benefit
    result = adjudicate(policy, before, claim, context)
    assert result.after.fund_paid <= max(before.fund_paid, benefit.annual_cap_fen)
    assert result.after.deductible_used <= max(before.deductible_used, benefit.deductible_fen)
    left = remaining(benefit, result.after)
    assert left.cap >= 0 and left.deductible >= 0


@settings(max_examples=300, deadline=None)
@given(policies, accumulators, lines, contexts, st.integers(0, 1_000_000))
def test_more_deductible_already_used_never_lowers_the_fund(
    policy: PolicyVersion,
    before: Accumulators,
    claim: list[ClaimLine],
    ctx: dict[str, Any],
    extra: int,
) -> None:
    context = _context(policy, **ctx)
    less = adjudicate(policy, before, claim, context)
    more_used = Accumulators(before.deductible_used + extra, before.fund_paid, 0)
    more = adjudicate(policy, more_used, claim, context)
    assert more.total.deductible <= less.total.deductible
    assert (
        more.total.fund
        >= adjudicate(
            policy, Accumulators(before.deductible_used, before.fund_paid, 0), claim, context
        ).total.fund
    )


@settings(max_examples=300, deadline=None)
@given(policies, accumulators, st.lists(lines, min_size=1, max_size=5), contexts, st.data())
def test_reversal_restores_the_accumulators_exactly(
    policy: PolicyVersion,
    before: Accumulators,
    claims: list[list[ClaimLine]],
    ctx: dict[str, Any],
    data: st.DataObject,
) -> None:
    context = _context(policy, **ctx)
    state = before
    settled = []
    for claim in claims:
        result = adjudicate(policy, state, claim, context)
        settled.append(result.total)
        state = result.after
    for total in data.draw(st.permutations(settled)):  # reversed in any order
        state = state.reversed(total)
    assert state == before
