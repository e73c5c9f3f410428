"""The data steward's console read models and actions below the web layer
(hub.console.queries.steward): a review item's two records side by side and the comparison that
scored them, its resolution, merge, split and undo through the stewardship services; and what
another role or a forged id gets: refused, nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hub.auth.actor import Actor
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.console.queries import steward
from hub.errors import Forbidden, InvalidRequest
from hub.mpi.errors import ReviewNotFound
from tests.integration import test_mpi_stewardship as mpi
from tests.integration.console_areas import as_actor
from tests.integration.test_mpi_stewardship import Source

register = mpi.register  # facility systems registering Patients through the API (a fixture)
operator_api = mpi.steward  # the stewardship JSON API as an operator (a fixture)
STEWARD = Actor.build(client_id="console:steward-1", facility="HUB", role=Role.data_steward,
                      scope=DEFAULT_SCOPES[Role.data_steward])  # fmt: skip
DOCTOR = Actor.build(client_id="console:doc-1", facility="H001", role=Role.practitioner,
                     scope=DEFAULT_SCOPES[Role.practitioner], purpose_of_use="TREAT")  # fmt: skip


@pytest.fixture
def case(operator_api: httpx.Client, register: Callable[..., Source]) -> dict[str, Any]:
    first, second = mpi.review_case(operator_api, register)
    return {"first": first, "second": second, "item": mpi.review_of(operator_api, second, "open")}


def test_the_item_shows_both_records_and_the_weights_that_scored_them(
    case: dict[str, Any],
) -> None:
    with as_actor(STEWARD) as store:
        detail = steward.review_detail(store, case["item"]["id"])
    first, second = case["first"], case["second"]
    cmp = detail.comparison
    assert (cmp.source.facility, cmp.source.source_id) == (second.facility, second.source_id)
    assert cmp.candidate is not None and cmp.candidate.source_id == first.source_id
    assert cmp.score is not None
    fields = {f.name: f for f in cmp.score.fields}
    assert fields["family_name"].level == "exact" and fields["birth_date"].level == "exact"
    assert fields["phone"].level == "different" and fields["phone"].weight < 0
    total = cmp.score.prior_weight + sum(f.weight for f in cmp.score.fields)
    assert total == pytest.approx(cmp.score.weight)
    assert detail.source.shown and detail.candidate.shown  # data stewards read as the API's
    assert detail.source.reference == f"Patient/{second.patient_id}"
    assert ("13700002222" in detail.source.phones) and ("13900001111" in detail.candidate.phones)


def test_a_match_links_the_source_to_the_candidate(
    case: dict[str, Any], operator_api: httpx.Client
) -> None:
    item = case["item"]
    with as_actor(STEWARD) as store:
        resolved = steward.resolve(store, item["id"], "match", "same person, moved house")
    assert resolved.status == "resolved" and resolved.resolution == "match"
    assert mpi.eid(operator_api, case["second"]) == item["candidate_enterprise_id"]
    with as_actor(STEWARD) as store:
        person = steward.person_history(store, item["candidate_enterprise_id"])
    assert {s.source_id for s in person.sources} >= {case["first"].source_id,
                                                     case["second"].source_id}  # fmt: skip
    assert any("same person, moved house" in e.reason for e in person.history)


def test_merge_split_and_undo_go_through_the_index(
    case: dict[str, Any], operator_api: httpx.Client
) -> None:
    item = case["item"]
    into = item["candidate_enterprise_id"]
    with as_actor(STEWARD) as store:
        merged = steward.merge(store, item["enterprise_id"], into, "one resident")
    assert merged.into_enterprise_id == into
    assert mpi.eid(operator_api, case["second"]) == into
    with as_actor(STEWARD) as store:
        steward.undo(store, merged.merge_id, "merged too soon")
    assert mpi.eid(operator_api, case["second"]) == item["enterprise_id"]
    with as_actor(STEWARD) as store:
        steward.merge(store, item["enterprise_id"], into, "one resident after all")
    second = case["second"]
    with as_actor(STEWARD) as store:
        split = steward.split(store, into, [(second.facility, second.source_id)], "twins")
    assert mpi.eid(operator_api, second) == split.enterprise_id != into


def test_another_role_is_refused_and_nothing_changes(
    case: dict[str, Any], operator_api: httpx.Client
) -> None:
    item = case["item"]
    for attempt in (
        lambda store: steward.review_queue(store),
        lambda store: steward.review_detail(store, item["id"]),
        lambda store: steward.resolve(store, item["id"], "match", "mine now"),
        lambda store: steward.merge(store, item["enterprise_id"], item["candidate_enterprise_id"],
                                    "mine now"),
    ):  # fmt: skip
        with pytest.raises(Forbidden), as_actor(DOCTOR) as store:
            attempt(store)
    assert mpi.review_of(operator_api, case["second"], "open")["id"] == item["id"]


def test_a_forged_id_or_a_bad_decision_changes_nothing(
    case: dict[str, Any], operator_api: httpx.Client
) -> None:
    with pytest.raises(ReviewNotFound), as_actor(STEWARD) as store:
        steward.review_detail(store, 2**62)
    with pytest.raises(InvalidRequest), as_actor(STEWARD) as store:
        steward.resolve(store, case["item"]["id"], "maybe", "unsure")
    with pytest.raises(InvalidRequest), as_actor(STEWARD) as store:
        steward.resolve(store, case["item"]["id"], "match", "   ")
    assert mpi.review_of(operator_api, case["second"], "open")["id"] == case["item"]["id"]
