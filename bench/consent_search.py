"""What consent enforcement costs a search: the same queries as an exempt operator (baseline, no
consent filter) and as another facility treating patients (filter in SQL + per-row decision).

    .venv/bin/python bench/consent_search.py [--backend postgresql|sqlite] [--patients 5000]
        [--per-patient 4] [--consented 0.2] [--seconds 5] [--in-process]

A fresh database (PostgreSQL: created on the local server and dropped at the end) gets
``--patients`` Patients recorded by H001, each with ``--per-patient`` Observations (one in ten
with an HIV LOINC code, so sensitive), bulk-loaded; a ``--consented`` share of the patients get a
Consent (half deny H002, half opt H002 in to HIV data). Then each query runs for ``--seconds``
as the operator and as H002 (purpose TREAT), over HTTP against the hub under uvicorn (one
worker, pinned to one core as in ``fhir_api.py``; one keep-alive connection, one request at a
time; ``--in-process`` calls the search in this process instead, a diagnostic): one patient's
Observations (a patient with a consent, a patient without), and a broad code search over
everyone with ``_total=accurate`` (on PostgreSQL after ANALYZE, as autovacuum would). Prints
the load average, mean, p50, p99 per query and role, and H002/operator ratios.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench_db import fresh_database
from fhir_api import Server, configure_hub, free_port

HEART_RATE, HIV_TEST = "8867-4", "75622-1"


def load(patients: int, per_patient: int, consented: float) -> tuple[list[str], list[str]]:
    """(patient ids, ids of the patients with a consent)."""
    from hub.auth.actor import Actor
    from hub.auth.roles import Role
    from hub.db import session_scope
    from hub.fhir.bulk import bulk_create
    from hub.fhir.store import FhirStore
    from hub.security.fields import get_cipher
    from hub.settings import get_settings

    h001 = Actor.build(client_id="bench", facility="H001", role=Role.facility_system,
                       scope="system/*.cruds", purpose_of_use="TREAT")  # fmt: skip
    cipher, base = get_cipher(), get_settings().fhir_base_url
    rng = random.Random(7)
    ids = [str(uuid.uuid4()) for _ in range(patients)]
    people = [{"resourceType": "Patient", "id": i, "name": [{"family": "王", "given": ["伟"]}],
               "birthDate": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"}
              for i in ids]  # fmt: skip
    observations = [
        {"resourceType": "Observation", "status": "final",
         "code": {"coding": [{"system": "http://loinc.org",
                              "code": HIV_TEST if rng.random() < 0.1 else HEART_RATE}]},
         "subject": {"reference": f"Patient/{p}"}, "valueQuantity": {"value": 70}}
        for p in ids for _ in range(per_patient)
    ]  # fmt: skip
    for start in range(0, len(people), 2000):
        with session_scope() as session:
            bulk_create(session, "Patient", people[start : start + 2000], actor=h001,
                        cipher=cipher, base_url=base)  # fmt: skip
    for start in range(0, len(observations), 5000):
        with session_scope() as session:
            bulk_create(session, "Observation", observations[start : start + 5000], actor=h001,
                        cipher=cipher, base_url=base)  # fmt: skip
    chosen = rng.sample(ids, int(patients * consented))
    h002 = {"reference": {"reference": "Organization/H002"},
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                 "v3-ParticipationType", "code": "IRCP"}]}}  # fmt: skip
    with session_scope() as session:
        store = FhirStore(session, h001, cipher, base)
        for n, patient in enumerate(chosen):
            provision = (
                {"type": "deny", "actor": [h002]}
                if n % 2 == 0
                else {"type": "permit", "actor": [h002], "securityLabel": [{
                      "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "HIV"}]}
            )  # fmt: skip
            store.create("Consent", {
                "resourceType": "Consent", "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                      "consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                "patient": {"reference": f"Patient/{patient}"}, "dateTime": "2025-05-01",
                "sourceAttachment": {"contentType": "application/pdf", "data": "JVBERi0xLjQK"},
                "provision": provision,
            })  # fmt: skip
    return ids, chosen


def timed(work: Callable[[], object], seconds: float) -> list[float]:
    work()  # warm-up: caches, compiled statements
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def searcher(in_process: bool, port: int) -> Callable[[str, list[tuple[str, str]]], object]:
    """A function running one Observation search as a role ("operator" or "H002")."""
    from hub.auth.actor import SYSTEM_ACTOR, Actor
    from hub.auth.roles import DEFAULT_SCOPES, Role

    h002 = Actor.build(client_id="bench-h002", facility="H002", role=Role.facility_system,
                       scope="system/*.rs", purpose_of_use="TREAT")  # fmt: skip
    if in_process:
        from hub.db import session_scope
        from hub.fhir.router import do_search
        from hub.fhir.store import FhirStore
        from hub.security.fields import get_cipher

        actors = {"operator": SYSTEM_ACTOR, "H002": h002}

        def run_here(role: str, params: list[tuple[str, str]]) -> object:
            with session_scope() as session:
                return do_search(FhirStore(session, actors[role], get_cipher(), ""), "Observation",
                                 params)  # fmt: skip

        return run_here
    import httpx

    from hub.auth.service import get_issuer

    def token(actor: Actor) -> str:
        minted, _ = get_issuer().issue(client_id=actor.client_id, facility=actor.facility,
                                       role=actor.role, scope=DEFAULT_SCOPES[actor.role],
                                       purpose_of_use=actor.purpose_of_use)  # fmt: skip
        return minted

    operator = Actor.build(client_id="bench-operator", facility="H001", role=Role.operator,
                           scope="", purpose_of_use="TREAT")  # fmt: skip
    headers = {role: {"Authorization": f"Bearer {token(a)}"}
               for role, a in (("operator", operator), ("H002", h002))}  # fmt: skip
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/fhir", timeout=120)

    def run_http(role: str, params: list[tuple[str, str]]) -> object:
        answer = client.get("/Observation", params=params, headers=headers[role])
        answer.raise_for_status()
        return answer

    return run_http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--per-patient", type=int, default=4)
    parser.add_argument("--consented", type=float, default=0.2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-process", action="store_true", help="no HTTP: a diagnostic")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="consent-bench-") as tmp,
        fresh_database(args.backend, Path(tmp)) as url,
    ):
        port = free_port()
        configure_hub(url, Path(tmp) / "var", port)
        from hub.wiring import wire

        wire()  # the write hooks and subscribers, as the app and the worker have them
        from sqlalchemy import text

        from hub.db import reset_engine, session_scope
        from hub.migrate import upgrade_database
        from hub.settings import get_settings

        get_settings.cache_clear()
        reset_engine()
        upgrade_database()
        how = "in-process" if args.in_process else "HTTP, uvicorn 1 worker"
        print(f"bench/consent_search.py, {args.backend}, {how}, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {load_average()}")  # fmt: skip
        started = time.perf_counter()
        ids, consented = load(args.patients, args.per_patient, args.consented)
        print(f"  loaded {len(ids):,} patients, {len(ids) * args.per_patient:,} Observations, "
              f"{len(consented):,} consents in {time.perf_counter() - started:.0f} s")  # fmt: skip
        if args.backend == "postgresql":  # as autovacuum would after a load this size
            with session_scope() as session:
                session.execute(text("ANALYZE"))
        server = None
        if not args.in_process:
            server = Server("hub.asgi:app", port, Path(tmp) / "hub.log", "/healthz")
        try:
            measure(searcher(args.in_process, port), ids, consented, args.seconds)
        finally:
            if server is not None:
                server.stop()
        print(f"  load average at the end: {load_average()}")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def measure(
    search: Callable[[str, list[tuple[str, str]]], object],
    ids: list[str],
    consented: list[str],
    seconds: float,
) -> None:
    plain = next(p for p in ids if p not in set(consented))
    queries = {
        "one patient, with a consent": [("subject", consented[1])],
        "one patient, without": [("subject", plain)],
        "code over everyone, _total": [("code", HEART_RATE), ("_count", "50"),
                                       ("_total", "accurate")],
    }  # fmt: skip
    print(f"  {'query':<30} {'role':<9} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8}  n")
    for label, params in queries.items():
        means: dict[str, float] = {}
        for role in ("operator", "H002"):
            samples = sorted(timed(lambda r=role, p=params: search(r, p), seconds))
            means[role] = statistics.fmean(samples)
            print(f"  {label:<30} {role:<9} {means[role] * 1000:>8.2f} "
                  f"{samples[len(samples) // 2] * 1000:>8.2f} "
                  f"{samples[max(int(len(samples) * 0.99) - 1, 0)] * 1000:>8.2f}  "
                  f"{len(samples)}")  # fmt: skip
        print(f"  {'':<30} H002 / operator = {means['H002'] / means['operator']:.2f}")


if __name__ == "__main__":
    main()
