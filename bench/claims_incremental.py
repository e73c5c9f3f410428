"""The incremental claims audit of one settlement: commit -> queue -> task -> findings recorded.

    .venv/bin/python bench/claims_incremental.py [--settlements 200] [--seconds 600]

On PostgreSQL (a fresh database on the local server, dropped at the end), in one process: each
settlement is a new outpatient visit, a week after the last, of one of ``--settlements / 4``
insured persons (so the look-back window holds their earlier visits) with a prescription and a
dispense of the drug it bills; every fifth bills more units than were prescribed (an
excess-quantity finding). Per
settlement, timed one after the other (no concurrency):

- **baseline**: the settlement through the hub's settlement path (``settle`` and its commit)
  with the audit queue off (the settlement's write hook enqueues nothing);
- **three-way**: the same settlement with the queue on, then the facility's task body
  (``drain_facility``: take the claim off the queue, load its view, run every rule with
  prescription matching on, record its findings, close disproved ones), each its own commit;
- **two-way**: the same with prescription matching off (the audit as it was before).

Prints p50/p99 (ms) of the settlement alone, of the audit alone and of both (the path from the
settlement's commit to its findings recorded), the SQL statements one audit sends (which the
machine's load does not move), the goal (audit p99 <= 50 ms) and the machine's
load (``uptime``): the machine is shared, figures move with it. The Celery hop (broker, worker
pick-up) is not in it: the task body runs in this process right after the commit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy
from fhir_api import configure_hub, create_database, drop_database, free_port
from settlement import claim as settlement_claim

ADMIN_URL = os.environ.get("HUB_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMOXICILLIN, CONSULT = "XJ01CAA040A001010100001", "001102000000100"
GOAL_MS = 50.0


@dataclass
class Phase:
    name: str
    settle: list[float] = field(default_factory=list)
    audit: list[float] = field(default_factory=list)
    findings: int = 0
    statements: list[int] = field(default_factory=list)  # SQL statements of each audit

    def line(self) -> str:
        both = [s + a for s, a in zip(self.settle, self.audit, strict=False)] or self.settle
        parts = [f"{self.name:<10} n={len(self.settle):>4}", f"settle {_pcts(self.settle)}"]
        if self.audit:
            parts += [f"audit {_pcts(self.audit)}", f"both {_pcts(both)}"]
            parts.append(f"findings {self.findings}")
            parts.append(f"SQL/audit {statistics.mean(self.statements):.1f}")
        return "  ".join(parts)


def _pcts(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} p99 {p99:6.1f} ms"


def _visit(store: Any, patient: str, coverage: str, week: int, units: int) -> dict[str, Any]:
    """A visit in ``week`` with its prescription and dispense (as the feeds would have sent
    them), and the Claim the cashier settles for it."""
    day = (date(2026, 3, 1) + timedelta(weeks=week)).isoformat()
    encounter = store.create("Encounter", {
        "resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
        "subject": {"reference": f"Patient/{patient}"},
        "serviceProvider": {"reference": "Organization/H001"},
        "period": {"start": f"{day}T09:00:00+08:00", "end": f"{day}T09:30:00+08:00"},
    }).resource_id  # fmt: skip
    drug = {"coding": [{"code": AMOXICILLIN}]}
    common = {"subject": {"reference": f"Patient/{patient}"}, "medicationCodeableConcept": drug}
    store.create("MedicationRequest", {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order", **common,
        "encounter": {"reference": f"Encounter/{encounter}"},
        "authoredOn": f"{day}T09:20:00+08:00", "dispenseRequest": {"quantity": {"value": 20}},
    })  # fmt: skip
    store.create("MedicationDispense", {
        "resourceType": "MedicationDispense", "status": "completed", **common,
        "context": {"reference": f"Encounter/{encounter}"}, "quantity": {"value": 20},
        "whenHandedOver": f"{day}T10:00:00+08:00",
    })  # fmt: skip
    body = settlement_claim(0, uuid.uuid4().hex, "claim")  # the settlement bench's Claim
    body["patient"] = {"reference": f"Patient/{patient}"}
    body["insurance"][0]["coverage"] = {"reference": f"Coverage/{coverage}"}
    body["created"] = day
    items = [(CONSULT, 1, 10.0), (AMOXICILLIN, units, 0.35)]
    body["item"] = [
        {"sequence": n, "productOrService": {"coding": [{"code": code}]},
         "quantity": {"value": qty}, "unitPrice": {"value": price, "currency": "CNY"},
         "encounter": [{"reference": f"Encounter/{encounter}"}]}
        for n, (code, qty, price) in enumerate(items, start=1)
    ]  # fmt: skip
    return body


def run(settlements: int, seconds: float) -> list[Phase]:
    from hub.auth.actor import Actor
    from hub.auth.roles import DEFAULT_SCOPES, Role
    from hub.db import get_engine, session_scope
    from hub.fhir.store import FhirStore
    from hub.migrate import upgrade_database
    from hub.security.fields import get_cipher
    from hub.seeding import seed_region
    from hub.settings import get_settings
    from hub.wiring import wire
    from hub.work_queues import install_dispatcher
    from insurance.claims_audit import queue, service
    from insurance.claims_audit.params import PrescriptionMatchParams
    from insurance.policy import Policy, Scheme, load_policy
    from insurance.resources import coverage_resource
    from insurance.settlement.service import settle

    upgrade_database()
    wire()
    seed_region()

    class Idle:  # the task body runs here, timed, instead of a worker thread
        def notify(self, keys: Any) -> None:
            pass

        def close(self) -> None:
            pass

    install_dispatcher(queue.QUEUE, Idle())
    statements = [0]  # what an audit asks the database: a figure the machine's load does not move
    main = threading.get_ident()  # not the audit chain's linker thread

    @sqlalchemy.event.listens_for(get_engine(), "before_cursor_execute")
    def _count(*_: Any) -> None:
        if threading.get_ident() == main:
            statements[0] += 1

    cashier = Actor.build(client_id="bench-h001", facility="H001", role=Role.facility_system,
                          scope=DEFAULT_SCOPES[Role.facility_system],
                          purpose_of_use="HPAYMT")  # fmt: skip
    cipher, base = get_cipher(), get_settings().fhir_base_url

    def as_cashier(work: Callable[[FhirStore], Any]) -> Any:
        with session_scope() as session:
            return work(FhirStore(session, cashier, cipher, base))

    def person(store: FhirStore) -> tuple[str, str]:
        named = {"resourceType": "Patient", "name": [{"family": "王", "given": ["伟"]}]}
        patient = store.create("Patient", named)
        coverage = store.create("Coverage", coverage_resource(
            patient.resource_id, Scheme.UEBMI, "420502", 100_000, uuid.uuid4().hex))  # fmt: skip
        return patient.resource_id, coverage.resource_id

    crowd = max(1, settlements // 4)

    def policy(matching: bool) -> Policy:
        sample = load_policy()
        on = PrescriptionMatchParams(enabled=matching, facilities=("H001",))
        return sample.model_copy(update={"versions": tuple(
            v.model_copy(update={"claims_audit": v.claims_audit.model_copy(
                update={"prescription_match": on})}) if v.claims_audit else v
            for v in sample.versions)})  # fmt: skip

    enqueue = queue.enqueue
    phases = [Phase("baseline"), Phase("three-way"), Phase("two-way")]
    deadline = time.monotonic() + seconds
    for phase in phases:
        # the policy the audit reads, and the queue switched off for the baseline
        matching = policy(phase.name == "three-way")
        service.configured_policy = lambda matching=matching: matching  # type: ignore[misc]
        queue.enqueue = (lambda *a, **k: None) if phase.name == "baseline" else enqueue  # type: ignore[assignment]
        persons = [as_cashier(person) for _ in range(crowd)]  # new ones: no phase sees another's
        for n in range(settlements):
            if time.monotonic() > deadline:
                break
            patient, coverage = persons[n % len(persons)]
            claim = as_cashier(lambda s, p=patient, c=coverage, n=n: _visit(
                s, p, c, n // crowd, 30 if n % 5 == 0 else 20))  # fmt: skip
            began = time.perf_counter()
            as_cashier(lambda s, c=claim: settle(s, c))  # committed on leaving
            phase.settle.append(time.perf_counter() - began)
            if phase.name == "baseline":
                continue
            statements[0] = 0
            began = time.perf_counter()
            phase.findings += queue.drain_facility("H001").findings
            phase.audit.append(time.perf_counter() - began)
            phase.statements.append(statements[0])
    queue.enqueue = enqueue  # type: ignore[assignment]
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settlements", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=600, help="the whole run's bound")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="claims_incremental_"))
    name, url = create_database(ADMIN_URL)
    try:
        configure_hub(url, workdir / "var", free_port())
        consent = workdir / "consent_policy.json"  # persons are shared for payment (HPAYMT)
        consent.write_text(orjson.dumps({"opt_out_purposes": ["TREAT", "HPAYMT"]}).decode())
        os.environ["HUB_CONSENT_POLICY_FILE"] = str(consent)
        began = time.perf_counter()
        phases = run(args.settlements, args.seconds)
        print(f"PostgreSQL, {args.settlements} settlements per phase, one at a time "
              f"({time.perf_counter() - began:.0f} s)")  # fmt: skip
        for phase in phases:
            print("  " + phase.line())
        three = phases[1]
        if three.audit:
            p99 = sorted(three.audit)[
                min(len(three.audit) - 1, round(0.99 * (len(three.audit) - 1)))
            ]
            verdict = "met" if p99 * 1000 <= GOAL_MS else "NOT met"
            print(f"goal: three-way audit of one settlement p99 <= {GOAL_MS:.0f} ms: {verdict} "
                  f"({p99 * 1000:.1f} ms)")  # fmt: skip
        print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    finally:
        from hub.audit.chain_queue import AUDIT_CHAIN
        from hub.db import reset_engine
        from hub.work_queues import install_dispatcher

        linker = install_dispatcher(AUDIT_CHAIN, None)  # its thread, before the database goes
        if linker is not None:
            linker.close()
        reset_engine()
        drop_database(ADMIN_URL, name)


if __name__ == "__main__":
    main()
