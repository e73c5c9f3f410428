"""The untimed setup of bench/stack_load.py, through the stack's CLI and API as an operator
and the facilities would do it: tokens (``scripts/stack hub token``), insured patients with
their visits (one FHIR transaction each, through nginx), opt-outs (Consent), a release of
slots (``scripts/stack hub booking generate-slots``), and the patients' app tokens.

The patients' tokens are signed in this process with the stack's key, as ``hub token`` signs
them (tests/e2e/test_stack.py does the same): one ``scripts/stack hub token`` is a Python start
of about 2 to 5 s here, too slow for hundreds of patients.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from hub.auth.access_tokens import TokenIssuer
from hub.auth.purpose import DEFAULT_PURPOSE
from hub.auth.roles import DEFAULT_SCOPES, Role
from hub.auth.service import load_signing_key
from hub.settings import Settings
from hub.stack.layout import Layout

ROOT = Path(__file__).resolve().parent.parent
STACK = str(ROOT / "scripts" / "stack")
FAMILY = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红梅玉婷"
INSUTYPE = "https://hub.example.cn/fhir/CodeSystem/insutype"
BALANCE = "https://hub.example.cn/fhir/StructureDefinition/personal-account-balance"
PRIVACY = "http://terminology.hl7.org/CodeSystem/consentscope"
RECIPIENT = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


class SetupError(RuntimeError):
    """A setup step failed; the message says which and what the stack answered."""


def stack_cli(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(
        [STACK, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SetupError(f"scripts/stack {' '.join(args[:3])}: {done.stderr.strip()[-500:]}")
    return done.stdout


def cli_tokens(env: dict[str, str], wanted: list[tuple[str, str, str | None]]) -> list[str]:
    """``scripts/stack hub token`` for each (facility, role, purpose), four at a time."""

    def one(item: tuple[str, str, str | None]) -> str:
        facility, role, purpose = item
        extra = ["--purpose", purpose] if purpose else []
        out = stack_cli("hub", "token", "--facility", facility, "--role", role, *extra, env=env)
        return out.strip().splitlines()[-1]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, wanted))


def release_slots(env: dict[str, str], hospitals: list[str], days: int) -> int:
    """Generate the released days' slots for ``hospitals``; the number of new slots."""
    args = [arg for code in hospitals for arg in ("--facility", code)]
    out = stack_cli("hub", "booking", "generate-slots", "--days", str(days), *args, env=env)
    found = re.search(r"(\d+) slots created", out)
    return int(found.group(1)) if found else 0


def seed_residents(env: dict[str, str], count: int, seed: int) -> list[str]:
    """``count`` synthetic residents of their own seed (``hub seed --population --bulk``: the
    operator's path, with a Coverage each); their ids, as ``hub.seeding`` names them."""
    stack_cli("hub", "seed", "--population", str(count), "--population-seed", str(seed),
              "--bulk", env=env)  # fmt: skip
    return [f"res-{seed}-{index:07d}" for index in range(1, count + 1)]


@dataclass
class Registered:
    insured: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    clinical: list[str] = field(default_factory=list)
    identifiers: dict[str, str] = field(default_factory=dict)
    denied: set[tuple[str, str]] = field(default_factory=set)


def _visit_bundle(facility: str, number: int, rng: random.Random) -> dict[str, Any]:
    """An adult patient of ``facility`` (a minor's Consent needs a guardian) with a Coverage,
    an outpatient Encounter and two lab results."""
    patient, coverage, encounter = (f"urn:uuid:{uuid.uuid4()}" for _ in range(3))
    born = date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)).isoformat()
    mrn = f"LOAD{uuid.uuid4().hex[:10]}"
    resources: list[tuple[str, dict[str, Any]]] = [
        (
            patient,
            {
                "resourceType": "Patient",
                "gender": rng.choice(["male", "female"]),
                "birthDate": born,
                "name": [{"family": rng.choice(FAMILY), "given": [rng.choice(GIVEN) * 2]}],
                "identifier": [{"system": f"urn:his:{facility}", "value": mrn}],
                "managingOrganization": {"reference": f"Organization/{facility}"},
            },
        ),
        (
            coverage,
            {
                "resourceType": "Coverage",
                "status": "active",
                "type": {"coding": [{"system": INSUTYPE, "code": "310"}]},
                "beneficiary": {"reference": patient},
                "payor": [{"display": "Medical insurance 420502"}],
                "extension": [{"url": BALANCE, "valueMoney": {"value": 500.00, "currency": "CNY"}}],
            },
        ),
        (
            encounter,
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": patient},
                "serviceProvider": {"reference": f"Organization/{facility}"},
            },
        ),
    ]
    for code, value in (("718-7", 13.5), ("2345-7", 5.4)):
        resources.append(
            (
                f"urn:uuid:{uuid.uuid4()}",
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                    "subject": {"reference": patient},
                    "encounter": {"reference": encounter},
                    "valueQuantity": {"value": value},
                },
            )
        )
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": url,
                "resource": body,
                "request": {"method": "POST", "url": body["resourceType"]},
            }
            for url, body in resources
        ],
    }


def _created_ids(response: httpx.Response) -> list[str]:
    if response.status_code != 200:
        raise SetupError(f"transaction: {response.status_code} {response.text[:300]}")
    ids = []
    for entry in response.json()["entry"]:
        location = entry["response"]["location"]  # Type/id/_history/n
        ids.append(location.split("/")[-3])
    return ids


def _consent(facility: str, patient: str, denied: str) -> dict[str, Any]:
    """The patient refuses sharing with ``denied`` (README, Consent), recorded by ``facility``."""
    return {
        "resourceType": "Consent",
        "status": "active",
        "dateTime": date.today().isoformat(),
        "scope": {"coding": [{"system": PRIVACY, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "organization": [{"reference": f"Organization/{facility}"}],
        "sourceAttachment": {
            "contentType": "application/pdf",
            "title": "知情同意书",
            "data": "JVBERi0xLjQK",
        },
        "provision": {
            "type": "deny",
            "actor": [
                {
                    "reference": {"reference": f"Organization/{denied}"},
                    "role": {"coding": [{"system": RECIPIENT, "code": "IRCP"}]},
                }
            ],
        },
    }


def register_patients(
    layout: Layout, tokens: dict[str, str], count: int, opt_out_share: float, seed: int
) -> Registered:
    """``count`` patients spread over the facilities of ``tokens``, each with a Coverage and
    a visit, eight transactions at a time; ``opt_out_share`` of them deny another facility."""
    facilities = sorted(tokens)
    rng = random.Random(seed)
    plans = [(facilities[n % len(facilities)], n) for n in range(count)]
    trust = ssl.create_default_context(cafile=str(layout.tls_cert))
    registered = Registered()
    with httpx.Client(
        base_url=f"{layout.public_url}/fhir",
        verify=trust,
        timeout=120,
        limits=httpx.Limits(max_connections=8),
    ) as web:

        def post(path: str, facility: str, body: dict[str, Any]) -> httpx.Response:
            headers = {
                "Authorization": f"Bearer {tokens[facility]}",
                "Content-Type": "application/fhir+json",
            }
            return web.post(path, headers=headers, content=json.dumps(body))

        def one(item: tuple[str, int]) -> tuple[str, str, str, str]:
            facility, number = item
            bundle = _visit_bundle(facility, number, random.Random(seed * 100_000 + number))
            patient, coverage, *_ = _created_ids(post("", facility, bundle))
            identifier = bundle["entry"][0]["resource"]["identifier"][0]
            return facility, patient, coverage, f"{identifier['system']}|{identifier['value']}"

        with ThreadPoolExecutor(8) as pool:
            for facility, patient, coverage, identifier in pool.map(one, plans):
                registered.insured.setdefault(facility, []).append((patient, coverage))
                registered.clinical.append(patient)
                registered.identifiers[patient] = identifier
        for facility, people in registered.insured.items():
            others = [f for f in facilities if f != facility]
            for patient, _ in people:
                if others and rng.random() < opt_out_share:
                    denied = rng.choice(others)
                    answer = post("/Consent", facility, _consent(facility, patient, denied))
                    if answer.status_code != 201:
                        raise SetupError(f"Consent: {answer.status_code} {answer.text[:300]}")
                    registered.denied.add((patient, denied))
    return registered


def patient_tokens(layout: Layout, patients: list[str], ttl_seconds: int) -> list[str]:
    """A patient app token per patient, signed with the stack's key (see the module's note)."""
    secrets = json.loads(layout.secrets_file.read_text())
    issuer = TokenIssuer(
        load_signing_key(Settings(signing_key=secrets["HUB_SIGNING_KEY"])),
        issuer=layout.public_url,
        audience=f"{layout.public_url}/fhir",
        ttl_seconds=ttl_seconds,
    )
    return [
        issuer.issue(
            client_id="stack-load",
            facility="H001",
            role=Role.patient,
            patient=patient,
            scope=DEFAULT_SCOPES[Role.patient],
            purpose_of_use=DEFAULT_PURPOSE[Role.patient],
        )[0]
        for patient in patients
    ]
