"""Tier rules: who may refer to whom, as versioned configuration (``data/tier_rules.json``).

A facility's tier comes from its kind and hospital level (village clinic 0 ... 三级 hospital 3).
Upward = to a higher tier, downward = to a lower one, lateral = the same tier. A referral that
breaks a rule is refused with the rule's name and the rules' version. Pure: no I/O beyond
reading the packaged file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

from hub.fhir.systems import FACILITY_KIND_SYSTEM, HOSPITAL_LEVEL_SYSTEM

RULES_FILE = "tier_rules.json"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    LATERAL = "lateral"


class Rule(StrEnum):
    """The rules a referral can break; their names appear in the refusal."""

    CARE_PROVIDERS = "care-providers-only"  # both sides must have a tier (no pharmacies)
    UPWARD_FROM_TIER = "upward-min-source-tier"  # a top-tier department takes no skipped tiers
    LATERAL = "lateral-min-tier"  # same-tier referrals only between larger hospitals
    HOSPITAL_REFERRALS_ONLY = "hospital-referrals-only"  # the department takes hospital referrals
    ACCEPTS_REFERRALS = "accepts-referrals"  # the department takes referrals at all


class TierRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    description: str = ""
    tiers: dict[str, int]  # facility kind, or ``hospital-<level digit>`` -> tier
    upward_min_source_tier: dict[int, int] = {}  # target tier -> lowest tier it takes from
    lateral_min_tier: int = 99  # same-tier referrals only at or above this tier


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    message: str


@cache
def load_tier_rules() -> TierRules:
    text = (resources.files("referral") / "data" / RULES_FILE).read_text(encoding="utf-8")
    return TierRules.model_validate_json(text)


def tier_key(organization: dict[str, Any]) -> str | None:
    """``hospital-3`` for a 三级 hospital, else the facility kind; None when unknown."""
    kind = level = None
    for concept in organization.get("type") or []:
        for coding in (concept or {}).get("coding") or []:
            if coding.get("system") == FACILITY_KIND_SYSTEM:
                kind = coding.get("code")
            elif coding.get("system") == HOSPITAL_LEVEL_SYSTEM:
                level = str(coding.get("code") or "")[:1]
    if kind == "hospital" and level:
        return f"hospital-{level}"
    return kind if isinstance(kind, str) else None


def direction(source_tier: int, target_tier: int) -> Direction:
    if target_tier > source_tier:
        return Direction.UP
    return Direction.DOWN if target_tier < source_tier else Direction.LATERAL


def check_referral(
    rules: TierRules,
    source: str | None,
    target: str | None,
    *,
    hospital_referrals_only: bool = False,
    accepts_referrals: bool = True,
) -> Refusal | None:
    """The first rule a referral from ``source`` to ``target`` (tier keys) breaks, or None."""
    named = f"(tier rules {rules.version})"
    if not accepts_referrals:
        return Refusal(Rule.ACCEPTS_REFERRALS, f"the target service takes no referrals {named}")
    source_tier = rules.tiers.get(source or "")
    target_tier = rules.tiers.get(target or "")
    if source_tier is None or target_tier is None:
        return Refusal(
            Rule.CARE_PROVIDERS,
            f"referrals go between care providers with a tier; {source} -> {target} {named}",
        )
    if hospital_referrals_only and not (source or "").startswith("hospital-"):
        return Refusal(
            Rule.HOSPITAL_REFERRALS_ONLY,
            f"the target department takes referrals from hospitals only, not a {source} {named}",
        )
    way = direction(source_tier, target_tier)
    lowest = rules.upward_min_source_tier.get(target_tier, 0)
    if way is Direction.UP and source_tier < lowest:
        return Refusal(
            Rule.UPWARD_FROM_TIER,
            f"a tier {target_tier} facility takes upward referrals from tier {lowest} or "
            f"higher; a {source} is tier {source_tier} {named}",
        )
    if way is Direction.LATERAL and source_tier < rules.lateral_min_tier:
        return Refusal(
            Rule.LATERAL,
            f"same-tier referrals are for tier {rules.lateral_min_tier} and higher; both sides "
            f"are tier {source_tier} {named}",
        )
    return None
