"""How many refused requests (outcome not 0) the audit log holds under a staff member's name:
the refusal tests of the desk's and the operator's pages check that each refusal was audited."""

from __future__ import annotations

from tests.browser.staff import Staff
from tests.integration.console_client import console_audit


def refusals(staff: Staff) -> int:
    return sum(1 for _, outcome, _ in console_audit(staff.username) if outcome != "0")
