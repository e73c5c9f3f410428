"""The rules: one module per rule code, each ``find(data, params, policy) -> [Finding]``. Pure.

Add a rule: a module here with ``CODE`` and ``find``, its parameters in
:mod:`insurance.claims_audit.params`, and a line in :data:`RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules import (
    bed_hogging,
    duplicate_charge,
    excess_quantity,
    item_swap,
    out_of_scope,
    phantom_service,
    split_admission,
    unbundling,
)
from insurance.claims_audit.view import AuditData
from insurance.policy import PolicyVersion

Find = Callable[[AuditData, ClaimsAuditParams, PolicyVersion], list[Finding]]


@dataclass(frozen=True)
class Rule:
    code: RuleCode
    find: Find


RULES: tuple[Rule, ...] = tuple(
    Rule(module.CODE, module.find)
    for module in (
        duplicate_charge,
        split_admission,
        bed_hogging,
        excess_quantity,
        item_swap,
        phantom_service,
        out_of_scope,
        unbundling,
    )
)
