"""The claims-audit rules' parameters: a ``claims_audit`` section of each policy version. Pure.

Versioned with the settlement policy (``insurance/data/sample_policy.json`` ships SAMPLE values),
so a finding is judged by the parameters in force on the claim's day. Days are whole days; every
code named here must be in the same version's catalogue (checked by
:class:`insurance.policy.PolicyVersion`), so a rule whose parameters are invalid refuses to load.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field, model_validator

from insurance.frozen import FrozenModel as _Frozen


class Sex(StrEnum):
    """FHIR administrative gender, as Patient.gender carries it."""

    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    UNKNOWN = "unknown"


class DuplicateChargeParams(_Frozen):
    # Items legitimately billed more than once a day (e.g. infusion sets): never duplicates.
    repeatable_codes: tuple[str, ...] = ()


class SplitAdmissionParams(_Frozen):
    readmission_days: int = Field(ge=1, le=90)  # N: discharge to readmission, same diagnosis


class BedHoggingParams(_Frozen):
    bed_and_nursing_codes: tuple[str, ...] = Field(min_length=1)
    min_idle_days: int = Field(ge=1, le=60)  # this many inpatient days with only those charges


class ExcessQuantityParams(_Frozen):
    acute_max_days: int = Field(ge=1, le=90)  # days' supply of one prescription
    chronic_max_days: int = Field(ge=1, le=180)  # for a chronic disease's drug
    chronic_drug_codes: tuple[str, ...] = ()
    overlap_tolerance_days: int = Field(ge=0, le=30)  # early refills this close are not flagged

    @model_validator(mode="after")
    def _chronic_not_shorter(self) -> ExcessQuantityParams:
        if self.chronic_max_days < self.acute_max_days:
            raise ValueError("chronic_max_days must be at least acute_max_days")
        return self


class ItemSwapParams(_Frozen):
    # Billed drugs are compared with the dispenses of the same encounter; nothing to tune yet.
    enabled: bool = True


class PhantomServiceParams(_Frozen):
    # A drug billed for an encounter that holds no dispense at all is a finding; a region whose
    # pharmacies do not yet send dispenses (RDS or FHIR) turns this off.
    require_dispense: bool = True
    # Two encounters of one person at two facilities overlapping by more than this.
    overlap_grace_minutes: int = Field(ge=0, le=1440)


class PrescriptionMatchParams(_Frozen):
    """Three-way matching: each billed drug against its prescription and dispenses.

    Off unless a version turns it on, and then only for the facilities listed (empty: all): a
    facility whose HIS does not send its prescriptions (RDE or FHIR) would otherwise have every
    drug it bills flagged. Listing the facilities keeps the decision in the versioned policy,
    where an auditor can read why a facility was or was not matched on a given day.
    """

    enabled: bool = False
    facilities: tuple[str, ...] = ()
    # A prescription holds for this many days after it was written (处方管理办法 art. 18: the
    # day it is written, at most 3 days), unless its dispenseRequest.validityPeriod says.
    valid_days: int = Field(default=3, ge=1, le=30)
    # Units billed beyond what was prescribed or dispensed that are not flagged (rounding of
    # a pack, a unit lost); 0: every extra unit is.
    quantity_tolerance: int = Field(default=0, ge=0, le=100)

    def applies_to(self, facility: str) -> bool:
        return self.enabled and (not self.facilities or facility in self.facilities)


class SexRestriction(_Frozen):
    code: str
    sex: Sex  # the only sex the item is for

    @model_validator(mode="after")
    def _a_sex(self) -> SexRestriction:
        if self.sex not in (Sex.MALE, Sex.FEMALE):
            raise ValueError("an item is restricted to male or female")
        return self


class AgeLimit(_Frozen):
    code: str
    min_years: int = Field(default=0, ge=0, le=150)
    max_years: int = Field(default=150, ge=0, le=150)

    @model_validator(mode="after")
    def _ordered(self) -> AgeLimit:
        if self.max_years < self.min_years:
            raise ValueError(f"age limit of {self.code}: max_years is below min_years")
        return self


class OutOfScopeParams(_Frozen):
    sex_restricted: tuple[SexRestriction, ...] = ()
    age_limits: tuple[AgeLimit, ...] = ()


class Package(_Frozen):
    """A package service and the parts it must not be billed as."""

    code: str
    parts: tuple[str, ...] = Field(min_length=2)
    min_parts: int = Field(ge=2)  # this many of the parts on one encounter and day: unbundled

    @model_validator(mode="after")
    def _reachable(self) -> Package:
        if len(set(self.parts)) != len(self.parts):
            raise ValueError(f"package {self.code}: a part is listed twice")
        if self.code in self.parts:
            raise ValueError(f"package {self.code} lists itself as a part")
        if self.min_parts > len(self.parts):
            raise ValueError(f"package {self.code}: min_parts exceeds the number of parts")
        return self


class UnbundlingParams(_Frozen):
    packages: tuple[Package, ...] = ()


Share = Decimal  # a share of claims, 0 to 1 with at most four decimals (0.0125: 1.25 %)
_SHARE = {"ge": 0, "le": 1, "decimal_places": 4}


class FacilityShare(_Frozen):
    facility: str = Field(min_length=1, max_length=64)
    share: Share = Field(**_SHARE)  # type: ignore[call-overload]


class ManualReviewSampleParams(_Frozen):
    """What share of each day's settled claims no rule flagged is drawn for an auditor's
    manual review: ``share`` everywhere, a facility's own share where ``facility_shares``
    names it (0 draws none)."""

    share: Share = Field(default=Decimal(0), **_SHARE)  # type: ignore[call-overload]
    facility_shares: tuple[FacilityShare, ...] = ()

    @model_validator(mode="after")
    def _once(self) -> ManualReviewSampleParams:
        codes = [f.facility for f in self.facility_shares]
        if len(set(codes)) != len(codes):
            raise ValueError("manual_review_sample.facility_shares names a facility twice")
        return self

    def share_of(self, facility: str) -> Decimal:
        return next((f.share for f in self.facility_shares if f.facility == facility), self.share)


class ClaimsAuditParams(_Frozen):
    note: str = ""
    duplicate_charge: DuplicateChargeParams
    split_admission: SplitAdmissionParams
    bed_hogging: BedHoggingParams
    excess_quantity: ExcessQuantityParams
    item_swap: ItemSwapParams = ItemSwapParams()
    phantom_service: PhantomServiceParams
    prescription_match: PrescriptionMatchParams = PrescriptionMatchParams()
    out_of_scope: OutOfScopeParams
    unbundling: UnbundlingParams
    manual_review_sample: ManualReviewSampleParams = ManualReviewSampleParams()

    def named_codes(self) -> dict[str, tuple[str, ...]]:
        """Every catalogue code a parameter names, by where it is named (for the check)."""
        return {
            "duplicate_charge.repeatable_codes": self.duplicate_charge.repeatable_codes,
            "bed_hogging.bed_and_nursing_codes": self.bed_hogging.bed_and_nursing_codes,
            "excess_quantity.chronic_drug_codes": self.excess_quantity.chronic_drug_codes,
            "out_of_scope.sex_restricted": tuple(r.code for r in self.out_of_scope.sex_restricted),
            "out_of_scope.age_limits": tuple(a.code for a in self.out_of_scope.age_limits),
            "unbundling.packages": tuple(
                code for p in self.unbundling.packages for code in (p.code, *p.parts)
            ),
        }
