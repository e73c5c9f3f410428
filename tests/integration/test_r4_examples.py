"""The official HL7 FHIR R4 examples, round-tripped through a live hub one file at a time.

Each example of a type the hub serves is PUT under its own id (prefixed per run, so runs never
clash), read back and compared with what was sent, and found again by ``_id``; Patients also by
name and identifier. The transaction and batch Bundles among the examples are posted to the
base URL. The examples live outside the repository (``../shared/corpus``); without them the
tests skip.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.systems import NAMESPACE as FACILITY_NAMESPACE
from tests.conftest import EXAMPLES_FACILITY
from tests.corpus import SHARED
from tests.live import LiveHub, TokenFactory

EXAMPLES_DIR = SHARED / "corpus" / "fhir" / "hl7_r4_examples"
RUN_PREFIX = f"r4-{uuid.uuid4().hex[:8]}"
# Served types the generic store accepts writes for (AuditEvent is a read-only view of the log).
WRITABLE_TYPES = sorted(t for t, d in RESOURCE_DEFS.items() if not d.read_only)

# Consent examples the hub refuses (consent/rules.py), with a phrase of the reason it gives.
CONSENTS_REFUSED: dict[str, str] = {
    # actors the decision point cannot match a requester to (a Patient as grantee)
    "Consent-consent-example-grantor.json": "an actor must reference one of",
    # a class that is no resource type this hub stores, so the consent could never apply
    "Consent-consent-example-signature.json": "class must be a resource type",
    # recorded by a facility (this test's token) without the patient's signed form
    "Consent-consent-example-pkb.json": "must attach the signed form",
    # permits that reach the recording facility (this test's token): it cannot grant itself
    "Consent-consent-example-smartonfhir.json": "grants itself access",
    "Consent-consent-example-basic.json": "grants itself access",
    "Consent-consent-example-notThis.json": "grants itself access",
    "Consent-consent-example-notTime.json": "grants itself access",
}
# Transaction examples the hub must refuse as a whole: the status and the reason it gives.
BUNDLES_REFUSED = {
    # 12 MolecularSequence entries: not a type the hub serves
    "Bundle-hla-1.json": (
        404, "transaction entry 1 failed: resource type 'MolecularSequence' is not supported"),
    # a tour of every interaction; entry 7 calls ValueSet/$lookup, an operation on a type the
    # hub does not serve (test_transaction_example_runs_without_its_valueset_lookup runs the rest)
    "Bundle-bundle-transaction.json": (
        404, "transaction entry 7 failed: resource type 'ValueSet' is not supported"),
}  # fmt: skip
# What each entry of a batch example must answer: the status and a phrase of its reason.
BATCH_OUTCOMES: dict[str, list[tuple[int, str]]] = {
    "Bundle-bundle-request-medsallergies.json": [
        (200, ""),  # GET Patient/example (made beforehand by _ensure_batch_parties)
        (404, "'MedicationStatement' is not supported"),
        (404, "'AllergyIntolerance' is not supported"),
        (400, "unknown search parameter '_list' for Condition"),
        (404, "'MedicationStatement' is not supported"),
    ],
}
# The entries of every other transaction example must all succeed with these statuses.
TRANSACTION_STATUSES = {"Bundle-xds.json": [201] * 5}


@pytest.fixture(scope="module")
def api(live_hub: LiveHub, make_token: TokenFactory) -> Iterator[httpx.Client]:
    """A facility system of the facility allowed dangling references: the examples refer to
    parties (Patient/example, Practitioner/f201) that exist only where they were written."""
    token = make_token(facility=EXAMPLES_FACILITY)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=live_hub.fhir_url, headers=headers, timeout=30) as client:
        yield client


def _ensure_consent_parties(api: httpx.Client, consent: dict[str, Any]) -> None:
    """The hub refuses a Consent naming a patient or organization it does not hold: give the
    example's parties minimal records first (PUT under the ids the example names)."""
    references = [consent.get("patient", {}).get("reference", "")]
    references += [o.get("reference", "") for o in consent.get("organization", [])]
    references += [p.get("reference", "") for p in consent.get("performer", [])]
    for reference in references:
        resource_type, _, resource_id = reference.partition("/")
        if resource_type in ("Patient", "Organization") and resource_id:
            if api.get(f"/{reference}").status_code == 200:
                continue
            body: dict[str, Any] = {"resourceType": resource_type, "id": resource_id}
            body["name"] = [{"family": "Example"}] if resource_type == "Patient" else "Example"
            assert api.put(f"/{reference}", json=body).status_code in (200, 201)


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    return data


def _examples() -> tuple[list[str], list[str]]:
    """File names of the resource examples and of the transaction/batch Bundle examples."""
    if not EXAMPLES_DIR.is_dir():
        return [], []
    resources, bundles = [], []
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        data = _load(path.name)
        if data.get("resourceType") in WRITABLE_TYPES:
            resources.append(path.name)
        elif data.get("resourceType") == "Bundle" and data.get("type") in ("transaction", "batch"):
            bundles.append(path.name)
    return resources, bundles


RESOURCE_EXAMPLES, BUNDLE_EXAMPLES = _examples()
NO_CORPUS = pytest.param(
    "",
    id="no-corpus",
    marks=pytest.mark.skip(reason=f"the HL7 R4 examples are not present at {EXAMPLES_DIR}"),
)


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource without what the server sets on every write (versionId, lastUpdated, and
    source: the writing facility, for the consent policy)."""
    result = copy.deepcopy(resource)
    meta = result.get("meta")
    if isinstance(meta, dict):
        meta.pop("versionId", None)
        meta.pop("lastUpdated", None)
        meta.pop("source", None)
        if not meta:
            del result["meta"]
    return result


def _unqualified(stored: dict[str, Any], sent: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with the facility namespace taken off the identifiers the example sent
    without a system (a facility's local identifiers are qualified on the way in; see
    adapters/fhir_inbound), so the rest of the round trip can be compared exactly."""
    result = copy.deepcopy(stored)
    for mine, theirs in zip(
        result.get("identifier") or [], sent.get("identifier") or [], strict=True
    ):
        if "system" not in theirs:
            assert str(mine.get("system", "")).startswith(FACILITY_NAMESPACE), mine
            mine.pop("system", None)
            if "assigner" not in theirs:
                mine.pop("assigner", None)
    return result


def _ids(searchset: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in searchset.get("entry", [])]


def _search(api: httpx.Client, resource_type: str, **params: str) -> dict[str, Any]:
    response = api.get(f"/{resource_type}", params={**params, "_count": "100"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "searchset"
    return body


def _patient_searches(patient: dict[str, Any]) -> list[dict[str, str]]:
    """Name and identifier searches that must find this Patient example."""
    searches = []
    for name in patient.get("name", []):
        if name.get("family"):
            searches += [{"family": name["family"]}, {"name": name["family"]}]
        elif name.get("given"):
            searches.append({"given": name["given"][0]})
        elif name.get("text"):
            searches.append({"name": name["text"]})
    for identifier in patient.get("identifier", []):
        if identifier.get("value"):
            system = identifier.get("system")
            token = f"{system}|{identifier['value']}" if system else identifier["value"]
            searches.append({"identifier": token})
    return searches


@pytest.mark.parametrize("file_name", RESOURCE_EXAMPLES or [NO_CORPUS])
def test_resource_example_round_trips(api: httpx.Client, file_name: str) -> None:
    example = _load(file_name)
    resource_type = example["resourceType"]
    resource_id = f"{RUN_PREFIX}-{example.get('id', uuid.uuid4().hex[:12])}"
    sent = {**example, "id": resource_id}
    if resource_type == "Consent":
        _ensure_consent_parties(api, example)

    created = api.put(f"/{resource_type}/{resource_id}", json=sent)

    if file_name in CONSENTS_REFUSED:
        assert created.status_code in (400, 403, 422), created.text
        assert CONSENTS_REFUSED[file_name] in created.text
        return
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == 'W/"1"'
    assert _comparable(_unqualified(created.json(), sent)) == _comparable(sent)

    read = api.get(f"/{resource_type}/{resource_id}")
    assert read.status_code == 200, read.text
    stored = read.json()
    assert stored["meta"]["versionId"] == "1"
    assert _comparable(_unqualified(stored, sent)) == _comparable(sent)

    by_id = _search(api, resource_type, _id=resource_id)
    assert _ids(by_id) == [resource_id]
    assert by_id["total"] == 1
    assert _comparable(_unqualified(by_id["entry"][0]["resource"], sent)) == _comparable(sent)

    if resource_type == "Patient":
        searches = _patient_searches(example)
        assert searches, f"{file_name} has no name or identifier to search by"
        for params in searches:
            assert resource_id in _ids(_search(api, "Patient", **params)), params


@pytest.mark.parametrize("file_name", BUNDLE_EXAMPLES or [NO_CORPUS])
def test_bundle_example_is_processed(api: httpx.Client, file_name: str) -> None:
    bundle = _load(file_name)
    known = file_name in BUNDLES_REFUSED or file_name in BATCH_OUTCOMES
    assert known or file_name in TRANSACTION_STATUSES, f"{file_name}: list what it must answer"
    types = {e["resource"]["resourceType"] for e in bundle["entry"] if "resource" in e}
    history_before = {t: _version_count(api, t) for t in types if t in WRITABLE_TYPES}
    if file_name in BATCH_OUTCOMES:
        _ensure_batch_parties(api)

    response = api.post("", json=bundle)

    if file_name in BUNDLES_REFUSED:
        status, reason = BUNDLES_REFUSED[file_name]
        assert response.status_code == status, response.text
        assert response.json()["resourceType"] == "OperationOutcome"
        assert reason in response.json()["issue"][0]["diagnostics"]
        assert {t: _version_count(api, t) for t in history_before} == history_before
        return
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == f"{bundle['type']}-response"
    answers = [entry["response"] for entry in result["entry"]]
    if bundle["type"] == "batch":  # a batch answers every entry, failures with an outcome
        for answer, (status, reason) in zip(answers, BATCH_OUTCOMES[file_name], strict=True):
            assert int(answer["status"].split()[0]) == status, answer
            if status >= 400:
                assert answer["outcome"]["resourceType"] == "OperationOutcome", answer
                assert reason in answer["outcome"]["issue"][0]["diagnostics"], answer
    else:
        assert [int(a["status"].split()[0]) for a in answers] == TRANSACTION_STATUSES[file_name]
    _check_created(api, bundle["entry"], answers)


def _check_created(
    api: httpx.Client, sent: list[dict[str, Any]], answers: list[dict[str, Any]]
) -> None:
    """Each POST answered 201 names a resource of the posted type that can be read back."""
    for entry, answer in zip(sent, answers, strict=True):
        if entry["request"]["method"] == "POST" and answer["status"].startswith("201"):
            location = answer["location"]
            assert location.startswith(f"{entry['resource']['resourceType']}/"), answer
            assert api.get(f"/{location.split('/_history')[0]}").status_code == 200


def _ensure_batch_parties(api: httpx.Client) -> None:
    """The batch example reads Patient/example: the hub must hold it for that entry to be 200."""
    patient = {"resourceType": "Patient", "id": "example", "name": [{"family": "Example"}]}
    assert api.put("/Patient/example", json=patient).status_code in (200, 201)


def _put(api: httpx.Client, resource_id: str) -> int:
    body = {"resourceType": "Patient", "id": resource_id, "name": [{"family": "Example"}]}
    response = api.put(f"/Patient/{resource_id}", json=body)
    assert response.status_code in (200, 201), response.text
    return int(response.json()["meta"]["versionId"])


def test_transaction_example_runs_without_its_valueset_lookup(api: httpx.Client) -> None:
    """Bundle-bundle-transaction.json minus entry 7 (ValueSet/$lookup, refused above), with the
    resources its conditional entries expect: Patient/123a at version 2, Patient/12334 and
    Patient/234 (deleted by the transaction)."""
    if "Bundle-bundle-transaction.json" not in BUNDLE_EXAMPLES:
        pytest.skip(f"Bundle-bundle-transaction.json is not present in {EXAMPLES_DIR}")
    bundle = _load("Bundle-bundle-transaction.json")
    lookup = bundle["entry"].pop(7)
    assert lookup["request"]["url"] == "ValueSet/$lookup"
    while _put(api, "123a") < 2:  # its entry is an update on condition of version 2
        pass
    _put(api, "12334")
    _put(api, "234")

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    answers = [entry["response"] for entry in response.json()["entry"]]
    statuses = [a["status"] for a in answers]
    assert statuses == ["201 Created"] * 4 + ["200 OK"] + ["204 No Content"] * 2 + ["200 OK"] * 2
    assert answers[2]["location"].startswith("Patient/123/_history/1")
    assert answers[4]["location"].startswith("Patient/123a/_history/3")  # the If-Match held
    assert api.get("/Patient/234").status_code == 410
    assert answers[8]["location"].startswith("Patient/12334/")
    _check_created(api, bundle["entry"], answers)


def _version_count(api: httpx.Client, resource_type: str) -> int:
    response = api.get(f"/{resource_type}/_history", params={"_count": 0})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_xds_transaction_links_its_entries(api: httpx.Client) -> None:
    """Bundle-xds.json: references to POSTed entries with absolute fullUrls point at them."""
    if "Bundle-xds.json" not in BUNDLE_EXAMPLES:
        pytest.skip(f"Bundle-xds.json is not present in {EXAMPLES_DIR}")
    bundle = _load("Bundle-xds.json")
    # Its own identity, so the ifNoneExist of this run cannot match another run's Patient.
    marker = uuid.uuid4().hex
    patient_entry = bundle["entry"][1]
    patient_entry["resource"]["identifier"] = [{"system": "urn:test:xds", "value": marker}]
    patient_entry["request"]["ifNoneExist"] = f"Patient?identifier=urn:test:xds|{marker}"

    response = api.post("", json=bundle)

    assert response.status_code == 200, response.text
    locations = [e["response"]["location"].split("/_history")[0] for e in response.json()["entry"]]
    document_ref, patient_ref, author_a, author_b, binary_ref = locations
    document = api.get(f"/{document_ref}").json()
    assert document["subject"] == {"reference": patient_ref}
    assert document["author"] == [{"reference": author_a}, {"reference": author_b}]
    assert patient_ref != "Patient/a2"
    assert binary_ref.startswith("Binary/")

    again = api.post("", json=bundle)  # the same upload again: ifNoneExist finds the Patient
    assert again.status_code == 200, again.text
    assert again.json()["entry"][1]["response"]["status"] == "200 OK"
    assert again.json()["entry"][1]["response"]["location"].startswith(f"{patient_ref}/")
