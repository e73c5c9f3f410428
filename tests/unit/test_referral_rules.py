"""The referral domain's rules: what a referral is and which change tells whom."""

from __future__ import annotations

from typing import Any

from referral.rules import (
    TO_BOTH,
    TO_PERFORMERS,
    is_process_request,
    is_referral,
    request_notice,
    request_reference,
    task_notice,
)
from referral.service import named_outside_the_hub

REFERRAL: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "status": "active",
    "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "3457005"}]}],
}


def test_a_referral_is_known_by_its_category() -> None:
    assert is_referral(REFERRAL)
    assert is_referral({"category": [{"coding": [{"code": "referral"}]}]})
    assert not is_referral({"category": [{"coding": [{"code": "108252007"}]}]})
    assert not is_referral({"category": ["not a concept"]})
    assert not is_referral({})


def test_a_new_referral_goes_to_the_performers_only() -> None:
    assert request_notice(None, REFERRAL) is TO_PERFORMERS
    assert request_notice({**REFERRAL, "status": "draft"}, REFERRAL) is TO_PERFORMERS


def test_a_status_change_tells_both_sides_and_nothing_else_does() -> None:
    assert request_notice(REFERRAL, {**REFERRAL, "status": "revoked"}) is TO_BOTH
    assert request_notice(REFERRAL, REFERRAL) is None
    assert request_notice(None, {**REFERRAL, "status": "draft"}) is None
    assert request_notice(None, {**REFERRAL, "category": []}) is None


def test_a_task_tells_both_sides_when_new_or_moved() -> None:
    task = {"status": "requested"}
    assert task_notice(None, task) is TO_BOTH
    assert task_notice(task, {"status": "accepted"}) is TO_BOTH
    assert task_notice(task, {"status": "requested", "businessStatus": {}}) is None


def test_the_task_names_its_request_by_focus_then_based_on() -> None:
    assert request_reference({"focus": {"reference": "ServiceRequest/a"}}) == "ServiceRequest/a"
    based = {"focus": {"reference": "Patient/p"}, "basedOn": [{"reference": "ServiceRequest/b"}]}
    assert request_reference(based) == "ServiceRequest/b"
    assert request_reference({"focus": "ServiceRequest/c"}) == ""


def test_the_workflow_task_is_process_request() -> None:
    assert is_process_request({"code": {"coding": [{"code": "process-request"}]}})
    assert not is_process_request({"code": {"coding": [{"code": "fulfill"}]}})
    assert not is_process_request({"code": "process-request"})


def test_a_referral_addressed_by_name_only_is_the_senders_record() -> None:
    assert named_outside_the_hub({"performer": [{"display": "YC_H001"}]})
    assert not named_outside_the_hub({"performer": [{"reference": "Organization/H001"}]})
    assert not named_outside_the_hub({"performer": []})
    assert not named_outside_the_hub({})
