"""The settlement policy: versioned data with effective dates, validated by these models. Pure.

A region's policy is a JSON file (``insurance/data/sample_policy.json`` ships SAMPLE values,
not any region's real numbers). Money is integer fen; ratios and shares are basis points
(``7000`` = 70 %), so no float ever touches an amount.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from importlib import resources

from pydantic import Field, model_validator

from insurance.claims_audit.params import ClaimsAuditParams
from insurance.frozen import FrozenModel as _Frozen

POLICY_FILE = "sample_policy.json"
FULL = 10_000  # basis points in one whole


class Scheme(StrEnum):
    UEBMI = "UEBMI"  # 职工基本医疗保险 (insutype 310)
    URRBMI = "URRBMI"  # 城乡居民基本医疗保险 (insutype 390)


class ItemClass(StrEnum):
    A = "A"  # 甲类: fully within the policy
    B = "B"  # 乙类: a self-paid share first
    C = "C"  # 丙类: not covered


class ItemKind(StrEnum):
    WESTERN_DRUG = "western-drug"
    PATENT_CHINESE_MEDICINE = "patent-chinese-medicine"
    CONSUMABLE = "consumable"
    SERVICE = "service"


class CatalogueItem(_Frozen):
    code: str = Field(min_length=1, max_length=50)  # national-style code (med_list_codg)
    name: str
    kind: ItemKind
    item_class: ItemClass = Field(alias="class")
    unit_price_fen: int = Field(ge=0)  # reference price
    price_ceiling_fen: int | None = Field(default=None, ge=0)


class Benefit(_Frozen):
    """One scheme at one hospital level (1, 2, 3; 0 for pharmacies and clinics)."""

    scheme: Scheme
    level: int = Field(ge=0, le=3)
    deductible_fen: int = Field(ge=0)  # 起付线, per year
    ratio_bp: int = Field(ge=0, le=FULL)  # the fund's share above the deductible
    annual_cap_fen: int = Field(ge=0)  # 封顶线: the most the fund pays in a year


class ReferralEffect(_Frozen):
    # A proper upward referral counts the deductible once across the two stays: none here.
    upward_referral_waives_deductible: bool = True
    # A tier-3 visit without a referral: the ratio is lowered by this many basis points.
    tier3_without_referral_ratio_cut_bp: int = Field(default=0, ge=0, le=FULL)
    validity_days: int = Field(default=90, ge=1)  # a referral without an end date, from authoredOn


class ChronicDisease(_Frozen):
    """A 门慢门特 outpatient disease: no deductible, its own ratio."""

    code: str
    name: str
    ratio_bp: int = Field(ge=0, le=FULL)


class PolicyVersion(_Frozen):
    version: str
    effective_from: date
    effective_to: date | None = None  # exclusive; None: until a later version starts
    class_b_self_paid_bp: int = Field(ge=0, le=FULL)  # 乙类 先行自付 share
    benefits: tuple[Benefit, ...]
    referral: ReferralEffect = ReferralEffect()
    chronic_diseases: tuple[ChronicDisease, ...] = ()
    catalogue: tuple[CatalogueItem, ...]
    claims_audit: ClaimsAuditParams | None = None  # the auditors' rules; none: no audit runs

    @model_validator(mode="after")
    def _unique(self) -> PolicyVersion:
        codes = [item.code for item in self.catalogue]
        if len(codes) != len(set(codes)):
            raise ValueError(f"policy {self.version}: a catalogue code is listed twice")
        keys = [(b.scheme, b.level) for b in self.benefits]
        if len(keys) != len(set(keys)):
            raise ValueError(f"policy {self.version}: a scheme and level is listed twice")
        if self.claims_audit is not None:
            known = set(codes)
            for where, named in self.claims_audit.named_codes().items():
                unknown = sorted(set(named) - known)
                if unknown:
                    raise ValueError(
                        f"policy {self.version}: claims_audit.{where} names codes not in the "
                        f"catalogue: {', '.join(unknown)}"
                    )
        return self

    def item(self, code: str) -> CatalogueItem | None:
        return next((item for item in self.catalogue if item.code == code), None)

    def benefit(self, scheme: Scheme, level: int) -> Benefit | None:
        return next((b for b in self.benefits if b.scheme == scheme and b.level == level), None)

    def chronic(self, code: str) -> ChronicDisease | None:
        return next((d for d in self.chronic_diseases if d.code == code), None)

    def in_effect(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class Policy(_Frozen):
    note: str = ""
    sample: bool = False  # True: illustrative values, not a region's real numbers
    region: str
    versions: tuple[PolicyVersion, ...] = Field(min_length=1)

    def on(self, day: date) -> PolicyVersion:
        """The version in effect on ``day`` (the latest starting one when several are)."""
        current = [v for v in self.versions if v.in_effect(day)]
        if not current:
            raise LookupError(f"no insurance policy version is in effect on {day.isoformat()}")
        return max(current, key=lambda v: v.effective_from)


def load_policy(text: str | None = None) -> Policy:
    """The packaged sample policy, or a region's own policy from ``text`` (its JSON)."""
    if text is None:
        text = (resources.files("insurance") / "data" / POLICY_FILE).read_text(encoding="utf-8")
    return Policy.model_validate_json(text)
