"""The data steward's console pages over HTTP: the refusals. Another role's staff, a forged
review id, a missing CSRF token or a decision without a reason get a 403, 404 or 400 page,
audited, and the review item stays open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hub.console.staff import StaffRole
from tests.browser.staff import Staff, new_staff
from tests.integration import test_mpi_stewardship as mpi
from tests.integration.console_areas import assert_not_found_pages, refused_texts
from tests.integration.console_client import browser_like, signed_in
from tests.integration.test_mpi_stewardship import Source
from tests.live import LiveHub

register = mpi.register  # facility systems registering Patients through the API (a fixture)
operator_api = mpi.steward  # the stewardship JSON API as an operator (a fixture)


@pytest.fixture
def case(operator_api: httpx.Client, register: Callable[..., Source]) -> dict[str, Any]:
    _, second = mpi.review_case(operator_api, register)
    return {"second": second, "item": mpi.review_of(operator_api, second, "open")}


@pytest.fixture(scope="module")
def data_steward(live_hub: LiveHub) -> Staff:
    return new_staff(StaffRole.data_steward, "HUB")


def _still_open(api: httpx.Client, case: dict[str, Any]) -> None:
    assert mpi.review_of(api, case["second"], "open")["id"] == case["item"]["id"]


def test_the_steward_opens_the_queue_and_an_item(
    live_hub: LiveHub, data_steward: Staff, case: dict[str, Any]
) -> None:
    with browser_like(live_hub) as client:
        signed_in(client, data_steward)
        queue = client.get("/console/steward")
        assert queue.status_code == 200 and "review-queue" in queue.text
        item = client.get(f"/console/steward/reviews/{case['item']['id']}")
        assert item.status_code == 200
        assert 'data-field="family_name"' in item.text and case["second"].source_id in item.text


@pytest.mark.parametrize("role", [StaffRole.practitioner, StaffRole.auditor])
def test_another_roles_staff_get_403_audited(
    live_hub: LiveHub, operator_api: httpx.Client, case: dict[str, Any], role: StaffRole
) -> None:
    other = new_staff(role, "H001")
    with browser_like(live_hub) as client:
        csrf = signed_in(client, other)
        assert client.get("/console/steward").status_code == 403
        assert client.get(f"/console/steward/reviews/{case['item']['id']}").status_code == 403
        posted = client.post(f"/console/steward/reviews/{case['item']['id']}/resolve",
                             data={"csrf_token": csrf, "resolution": "match",
                                   "reason": "not mine to decide"})  # fmt: skip
        assert posted.status_code == 403
    _still_open(operator_api, case)
    refusals = refused_texts(other.username)
    assert len(refusals) >= 3 and all("/console/steward" in text for text in refusals)


def test_a_forged_id_is_a_404_page_audited(
    live_hub: LiveHub, data_steward: Staff, case: dict[str, Any]
) -> None:
    forged = ("999999999999", "1%20or%201=1", "-1", "99999999999999999999999")
    paths = [f"/console/steward/reviews/{f}" for f in forged]
    assert_not_found_pages(live_hub, data_steward, [*paths, "/console/steward/persons/YC%27--"])


def test_a_missing_csrf_token_or_reason_changes_nothing(
    live_hub: LiveHub, operator_api: httpx.Client, data_steward: Staff, case: dict[str, Any]
) -> None:
    action = f"/console/steward/reviews/{case['item']['id']}/resolve"
    with browser_like(live_hub) as client:
        csrf = signed_in(client, data_steward)
        no_token = client.post(action, data={"resolution": "match", "reason": "forged form"})
        assert no_token.status_code == 403
        wrong = client.post(action, data={"csrf_token": csrf[::-1], "resolution": "match",
                                          "reason": "forged form"})  # fmt: skip
        assert wrong.status_code == 403
        no_reason = client.post(action, data={"csrf_token": csrf, "resolution": "match"})
        assert no_reason.status_code == 400
        bad = client.post(action, data={"csrf_token": csrf, "resolution": "perhaps",
                                        "reason": "unsure"})  # fmt: skip
        assert bad.status_code == 400
    _still_open(operator_api, case)
    texts = refused_texts(data_steward.username)
    assert sum("CSRF" in text for text in texts) >= 2
