"""Security issue item 8 (no 500s) and the /metrics part of item 9, over HTTP against the hub.

The attacks: with an ordinary token, a search of a thousand repeated parameters, an AuditEvent
id beyond BIGINT and a resource with extensions nested 200 deep each got a 500 (the database's
expression limit, OverflowError, RecursionError). Each must be refused as the client's fault
(400 or 404, as an OperationOutcome) while searches and bodies within the limits still work on
both databases. ``GET /metrics`` answered anyone; it is now for operator tokens and the
scraper's static secret only. Every test also checks the hub logged no unhandled error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hub.auth.roles import Role
from tests.integration.test_bad_input import assert_outcome
from tests.live import LiveHub, TokenFactory

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIMIT = 100  # the default max_search_parameters and max_search_values
TOTAL = 1000  # the default max_search_values_total
BEYOND_BIGINT = "9223372036854775808"  # 2**63


@pytest.fixture(autouse=True)
def no_unhandled_error(live_hub: LiveHub) -> Iterator[None]:
    """Nothing a test sends may reach the hub's catch-all handler (a 500 and its traceback)."""
    before = live_hub.log_path.stat().st_size
    yield
    with live_hub.log_path.open("rb") as log:
        log.seek(before)
        added = log.read().decode("utf-8", "replace")
    assert "unhandled error" not in added, added[-3000:]


def too_costly(response: httpx.Response, limit: int = LIMIT) -> None:
    issue = assert_outcome(response, 400)["issue"][0]
    assert issue["code"] == "too-costly", issue
    assert f"at most {limit}" in issue["diagnostics"], issue


def query(*pairs: tuple[str, str]) -> str:
    return str(httpx.QueryParams(list(pairs)))


def nested_extension(levels: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "v"}
    for _ in range(levels):
        extension = {"url": "http://example.org/branch", "extension": [extension]}
    return extension


def patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "name": [{"family": "深", "given": ["层"]}],
        "birthDate": "1990-02-03",
        **extra,
    }


@pytest.fixture(scope="module")
def patient_id(api: httpx.Client) -> str:
    response = api.post("/Patient", json=patient())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# -- search: how many parameters and values ----------------------------------------------------


def test_a_thousand_repeated_parameters_are_refused(api: httpx.Client) -> None:
    thousand = [("code", "a")] * 1000
    too_costly(api.get("/Observation", params=thousand))
    too_costly(api.post("/Observation/_search", content=query(*thousand), headers=FORM))
    # half in the URL, half in the form: the request counts as a whole
    half = [("code", "a")] * (LIMIT // 2 + 1)
    too_costly(api.post("/Observation/_search", params=half, content=query(*half), headers=FORM))
    # parameters the lenient mode would ignore still count
    unknown = [("no-such-parameter", "x")] * 1000
    lenient = {"Prefer": "handling=lenient"}
    too_costly(api.get("/Observation", params=unknown, headers=lenient))


def test_too_many_comma_separated_values_are_refused(api: httpx.Client) -> None:
    values = ",".join(f"c{i}" for i in range(1000))
    too_costly(api.get("/Observation", params={"code": values}))
    too_costly(api.get("/Patient", params={"name": values}))
    too_costly(api.get("/Patient", params={"_sort": ",".join(["name"] * 1000)}))
    too_costly(api.get("/Patient", params={"_elements": ",".join(["name"] * 1000)}))
    include = ",".join(["Observation:subject"] * 1000)
    too_costly(api.get("/Observation", params={"_include": include}))


def test_searches_at_the_limits_still_work(api: httpx.Client) -> None:
    """The limits sit below what the databases take (with consent filtering): as many
    parameters, or as many values of one, as allowed, up to the values allowed in all."""
    for resource_type, name, value in (
        ("Observation", "code", "c{}"),
        ("Patient", "name", "n{}"),
        # values no other test's data can match: the total must be 0 whatever ran before
        ("Observation", "value-quantity", "8888888{}"),
        ("Observation", "date", "ge2999-01-0{}"),
        ("Observation", "subject:Patient.organization.name", "n{}"),
    ):
        for parameters, values in ((LIMIT, TOTAL // LIMIT), (TOTAL // LIMIT, LIMIT)):
            joined = ",".join(value.format(i % 9 + 1) for i in range(values))
            form = query(*[(name, joined)] * parameters)
            response = api.post(f"/{resource_type}/_search", content=form, headers=FORM)
            assert response.status_code == 200, (name, response.text[:500])
            assert response.json()["total"] == 0
    eleven_times_91 = query(*[("code", ",".join(["a"] * 91))] * 11)  # 1001 values
    too_costly(api.post("/Observation/_search", content=eleven_times_91, headers=FORM), TOTAL)
    sort = ",".join(["date", "-code", "value-quantity", "subject"] * (LIMIT // 4))
    response = api.get("/Observation", params={"_sort": sort})
    assert response.status_code == 200, response.text[:500]


def test_long_chains_and_huge_numbers_are_refused(api: httpx.Client) -> None:
    chain = "subject:Patient.organization.partof.name"
    assert_outcome(api.get("/Observation", params={chain: "x"}), 400)
    for number in ("1e9999999", "9" * 400, "gt1e400|http://unitsofmeasure.org|mg"):
        assert_outcome(api.get("/Observation", params={"value-quantity": number}), 400)
    assert api.get("/Observation", params={"value-quantity": "1e-9999999"}).status_code == 200


def test_bundle_and_conditional_searches_have_the_same_limits(api: httpx.Client) -> None:
    url = "Observation?" + query(*[("code", "a")] * 1000)
    get = {"request": {"method": "GET", "url": url}}
    batch = api.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [get]})
    assert batch.status_code == 200, batch.text
    [entry] = batch.json()["entry"]
    assert entry["response"]["status"].startswith("400"), entry
    assert entry["response"]["outcome"]["issue"][0]["code"] == "too-costly"
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [get]}
    too_costly(api.post("", json=transaction))
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    criteria = query(*[("code", "a")] * 1000)
    too_costly(api.post("/Observation", json=observation, headers={"If-None-Exist": criteria}))
    too_costly(api.put(f"/Observation?{criteria}", json=observation))
    too_costly(api.delete(f"/Observation?{criteria}"))


# -- integers: ids, versions, paging -----------------------------------------------------------


def test_audit_event_ids_no_record_can_have_are_unknown(
    api: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    auditor = client_for(role=Role.auditor, facility="HUB")
    for client in (api, auditor):
        for audit_id in (BEYOND_BIGINT, "9" * 5000, "²", "0"):
            assert_outcome(client.get(f"/AuditEvent/{audit_id}"), 404)
        assert_outcome(client.get("/AuditEvent", params={"_id": BEYOND_BIGINT}), 404)


def test_version_beyond_bigint(api: httpx.Client, patient_id: str) -> None:
    for version in (BEYOND_BIGINT, "9" * 30):
        response = api.get(f"/Patient/{patient_id}/_history/{version}")
        assert response.status_code in (400, 404), response.text
        assert_outcome(response, response.status_code)
    assert_outcome(api.get(f"/Patient/{patient_id}/_history/99999"), 404)


@pytest.mark.parametrize("name", ["_count", "_offset"])
@pytest.mark.parametrize("value", ["99999999999999999999", BEYOND_BIGINT, "-1", "²", "1e3"])
def test_paging_numbers_out_of_range(
    api: httpx.Client,
    client_for: Callable[..., httpx.Client],
    live_hub: LiveHub,
    patient_id: str,
    name: str,
    value: str,
) -> None:
    params = {name: value}
    for path in (
        "/Patient",
        "/Patient/_history",
        f"/Patient/{patient_id}/_history",
        f"/Patient/{patient_id}/$everything",
        "/AuditEvent",
    ):
        assert_outcome(api.get(path, params=params), 400)
    assert_outcome(api.post("/Patient/_search", content=query((name, value)), headers=FORM), 400)
    operator, base = client_for(role=Role.operator, facility="HUB"), live_hub.base_url
    assert_outcome(operator.get(f"{base}/audit/break-glass", params=params), 400)
    if name == "_count":
        assert_outcome(operator.get(f"{base}/mpi/persons", params={"family": "深", **params}), 400)


def test_break_glass_review_of_a_number_beyond_bigint(
    client_for: Callable[..., httpx.Client], live_hub: LiveHub
) -> None:
    operator = client_for(role=Role.operator, facility="HUB")
    url = f"{live_hub.base_url}/audit/break-glass/{BEYOND_BIGINT}/review"
    response = operator.post(url, json={"note": "x"})
    assert_outcome(response, 400)


# -- JSON nesting ------------------------------------------------------------------------------


def test_deeply_nested_bodies_are_refused_before_validation(
    api: httpx.Client, patient_id: str
) -> None:
    deep = patient(extension=[nested_extension(200)])
    too_costly(api.post("/Patient", json=deep), limit=64)
    too_costly(api.put(f"/Patient/{patient_id}", json={**deep, "id": patient_id}), limit=64)
    entry = {"request": {"method": "POST", "url": "Patient"}, "resource": deep}
    for kind in ("batch", "transaction"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry]}
        too_costly(api.post("", json=bundle), limit=64)
    match = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": deep}]}
    too_costly(api.post("/Patient/$match", json=match), limit=64)
    # arrays count as much as objects
    too_costly(api.post("/Patient", content=b"[" * 500 + b"]" * 500), limit=64)


def test_nesting_within_the_limit_is_stored(api: httpx.Client) -> None:
    response = api.post("/Patient", json=patient(extension=[nested_extension(25)]))
    assert response.status_code == 201, response.text[:500]


# -- /metrics ----------------------------------------------------------------------------------


def test_metrics_are_for_operators_only(live_hub: LiveHub, make_token: TokenFactory) -> None:
    url = f"{live_hub.base_url}/metrics"

    def get(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.get(url, headers=headers, timeout=30)

    anonymous = get(None)
    assert_outcome(anonymous, 401)
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_outcome(get("not-a-token"), 401)
    for role in (Role.facility_system, Role.practitioner, Role.auditor, Role.patient):
        facility = "HUB" if role is Role.auditor else "H001"
        patient_claim = "p-1" if role is Role.patient else None
        assert_outcome(get(make_token(role=role, facility=facility, patient=patient_claim)), 403)
    for token in (make_token(role=Role.operator, facility="HUB"), os.environ["HUB_METRICS_TOKEN"]):
        response = get(token)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert "hub_hl7_inbox_messages" in response.text
        assert "hub_audit_chain_waiting" in response.text  # the audit chain's linking lag
