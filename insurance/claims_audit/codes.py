"""The rule codes and severities of claims-audit findings (the hub's CodeSystem). Pure."""

from __future__ import annotations

from enum import StrEnum

RULE_SYSTEM = "https://hub.example.cn/fhir/CodeSystem/claims-audit-rule"


class RuleCode(StrEnum):
    """The 十严禁 patterns the issue names, one rule module each."""

    DUPLICATE_CHARGE = "duplicate-charge"  # 重复收费
    SPLIT_ADMISSION = "split-admission"  # 分解住院
    BED_HOGGING = "bed-hogging"  # 挂床住院
    EXCESS_QUANTITY = "excess-quantity"  # 超量开药
    ITEM_SWAP = "item-swap"  # 串换
    PHANTOM_SERVICE = "phantom-service"  # 虚假就诊 / 虚记
    OUT_OF_SCOPE = "out-of-scope"  # 超范围
    UNBUNDLING = "unbundling"  # 分解收费
    # Not a rule: a claim no rule flagged, drawn for an auditor's manual review (抽查).
    MANUAL_REVIEW_SAMPLE = "manual-review-sample"


# The fraud patterns the rules look for (what synthetic months plant and are scored on).
PATTERN_CODES: tuple[RuleCode, ...] = tuple(
    code for code in RuleCode if code is not RuleCode.MANUAL_REVIEW_SAMPLE
)

RULE_DISPLAY: dict[RuleCode, str] = {
    RuleCode.DUPLICATE_CHARGE: "重复收费 Duplicate charge",
    RuleCode.SPLIT_ADMISSION: "分解住院 Split admission",
    RuleCode.BED_HOGGING: "挂床住院 Bed hogging",
    RuleCode.EXCESS_QUANTITY: "超量开药 Excess quantity",
    RuleCode.ITEM_SWAP: "串换 Item swap",
    RuleCode.PHANTOM_SERVICE: "虚假就诊 Phantom service",
    RuleCode.OUT_OF_SCOPE: "超范围 Out of scope",
    RuleCode.UNBUNDLING: "分解收费 Unbundling",
    RuleCode.MANUAL_REVIEW_SAMPLE: "抽查 Manual review sample",
}


class Severity(StrEnum):
    """DetectedIssue.severity (http://hl7.org/fhir/detectedissue-severity)."""

    HIGH = "high"
    MODERATE = "moderate"
    LOW = "low"
