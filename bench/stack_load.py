"""The region's peak hour against the running stack (``scripts/stack up``), with Locust.

    scripts/stack up      # with the same HUB_STACK_* variables as below
    .venv/bin/python bench/stack_load.py [--scale 1] [--duration 120] [--burst-start 30]
        [--burst-seconds 60] [--drain-budget 300] [--baseline-seconds 10]

Everything goes through the paths a facility or a patient uses: HTTPS through nginx (its
certificate: the run dir's tls/cert.pem) and MLLP to the listener. The mix (per second, times
``--scale``): 100 HL7 v2 messages over MLLP from 50 facilities (ADT, ORU, SIU; bench/hl7_data.py),
100 clinical reads by practitioners of four hospitals (read by id, searches; consent-filtered:
a tenth of the patients deny one of those hospitals, and a leak counts as an error), 20
settlements (``Claim/$submit``), and during ``--burst-seconds`` a booking release burst of
1,000 attempts (``$find``, ``$hold``, ``$book`` with patient tokens on the slots just released).

Setup, untimed: tokens (``scripts/stack hub token``), patients with a Coverage and a visit (FHIR
transactions through nginx), opt-out Consents, the slot release (``scripts/stack hub booking
generate-slots``). Then the baseline (nginx -> ``/healthz`` with as many users as the mix's HTTP
users, no pause), then the timed mix. Printed: per operation count, rate (and its target), p50,
p99, errors and expected refusals (409 on a full slot or a fair-use limit), for the whole run
and for the burst and outside it; the HL7 inbox queue (``hub_hl7_inbox_messages{status=
"received"}`` from the stack's ``/metrics``) over time and how long it took to drain after the
load stopped (bounded by ``--drain-budget``); CPU used by this generator, by the stack's
processes and by the whole machine (shared: others' work counts there), and the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import gevent
import stack_locust as users
from hl7_data import feed
from locust import User
from locust.env import Environment
from stack_figures import (
    ERROR,
    OK,
    Mix,
    Sample,
    drain_rate,
    drain_seconds,
    format_rows,
    summarise,
    thin,
    users_for,
)
from stack_setup import (
    SetupError,
    cli_tokens,
    patient_tokens,
    register_patients,
    release_slots,
    seed_residents,
)
from stack_watch import QueueWatch, cpu_between, measure_cpu, uptime

from hub.region.facilities import FacilityKind, load_facilities
from hub.stack.layout import Layout, layout_from_env
from referral.scheduling.config import load_booking_config
from referral.scheduling.facilities import bookable_facilities
from referral.scheduling.templates import released_days

CLINICAL_FACILITIES = ["H001", "H002", "H003", "H004"]  # doctors' and cashiers' hospitals


@dataclass
class Recorder:
    """Every call's sample, from Locust's request event; times from ``t0``."""

    t0: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    user_errors: list[str] = field(default_factory=list)  # exceptions raised out of a task

    def on_user_error(self, user_instance: object, exception: Exception, tb: object) -> None:
        self.user_errors.append(f"{type(exception).__name__}: {exception}"[:200])

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        exception: Exception | None = None,
        context: dict[str, str] | None = None,
        response: object = None,
        **_: object,
    ) -> None:
        context = context or {}
        outcome = context.get("outcome") or (ERROR if exception else OK)
        status = getattr(response, "status_code", None)
        detail = context.get("detail") or (str(status) if status else type(exception).__name__)
        seconds = response_time / 1000.0
        started = time.monotonic() - seconds - self.t0
        if started >= 0:
            self.samples.append(Sample(name, started, seconds, outcome, detail))


def run_users(
    classes: list[type[User]], seconds: float, recorder: Recorder, on_started: object = None
) -> float:
    """Start the users, wait until all are spawned, run ``seconds``, stop. Returns t0."""
    env = Environment(user_classes=classes)
    env.events.request.add_listener(recorder.on_request)
    env.events.user_error.add_listener(recorder.on_user_error)
    runner = env.create_local_runner()
    total = sum(getattr(c, "fixed_count", 0) for c in classes)
    runner.start(total, spawn_rate=min(100.0, max(50.0, total / 5)))  # Locust warns above 100
    if runner.spawning_greenlet is not None:
        runner.spawning_greenlet.join()
    recorder.t0 = time.monotonic()
    if callable(on_started):
        on_started(recorder.t0)
    gevent.sleep(seconds)
    runner.quit()
    return recorder.t0


def feeds_for(connections: int, per_connection: int, seed: int) -> list[list[object]]:
    """One facility per connection: hospitals first, then township health centres."""
    registry = load_facilities()
    order = [f for f in registry if f.kind is FacilityKind.HOSPITAL] + [
        f for f in registry if f.kind is FacilityKind.TOWNSHIP_CENTER
    ]
    return [
        list(
            feed(
                per_connection,
                seed=seed * 1000 + n,
                facilities=[
                    (order[n % len(order)].code, order[n % len(order)].hl7_sending_facility)
                ],
            )
        )
        for n in range(connections)
    ]


def release_burst_slots(env: dict[str, str], wanted: int) -> tuple[list[str], int, str]:
    """Release slots at ``wanted`` tertiary hospitals that had none yet (``hub seed`` gives the
    first three two days), so the burst meets a fresh release even on a stack run before."""
    config = load_booking_config()
    horizon = config.release_days_ahead
    day = released_days(datetime.now(UTC), config, horizon)[-1]  # the newest released day
    hospitals, slots = [], 0
    for code in bookable_facilities(tertiary_only=True)[3:]:
        created = release_slots(env, [code], horizon)
        if created:
            hospitals.append(code)
            slots += created
        if len(hospitals) == wanted:
            break
    if not hospitals:
        raise SetupError("no tertiary hospital without released slots is left: use a new stack")
    return hospitals, slots, day.isoformat()


def setup(args: argparse.Namespace, layout: Layout, mix: Mix, env: dict[str, str]) -> users.Plan:
    began = time.monotonic()
    facility_tokens = dict(
        zip(
            CLINICAL_FACILITIES,
            cli_tokens(env, [(f, "facility-system", None) for f in CLINICAL_FACILITIES]),
            strict=True,
        )
    )
    registered = register_patients(
        layout, facility_tokens, args.patients, args.opt_out_share, args.seed
    )
    booking_users = users_for(mix.booking_attempts_per_s, users.PACE["booking"])
    residents = seed_residents(env, booking_users, args.seed)
    tokens = patient_tokens(layout, residents, ttl_seconds=3600)
    hospitals, slots, release_day = release_burst_slots(env, args.release_hospitals)
    per_connection = int(users.PACE["hl7"] * args.duration * 1.3) + 20
    connections = users_for(mix.hl7_per_s, users.PACE["hl7"])
    feeds = feeds_for(connections, per_connection, args.seed)
    print(
        f"setup: {args.patients} patients (Patient + Coverage + Encounter + 2 Observations, one "
        f"transaction each) at {len(CLINICAL_FACILITIES)} hospitals, {len(registered.denied)} "
        f"opt-outs (Consent deny); {booking_users} residents (hub seed --bulk) with app tokens; "
        f"{slots} slots released at {', '.join(hospitals)} (the burst books {release_day}); "
        f"{connections} HL7 feeds of {per_connection} messages; "
        f"{time.monotonic() - began:.0f} s (untimed)"
    )
    return users.Plan(
        base_url=layout.public_url,
        cert=str(layout.tls_cert),
        mllp=("127.0.0.1", layout.mllp_port),
        feeds=feeds,  # type: ignore[arg-type]
        practitioner_tokens={},
        cashier_tokens={},
        insured=registered.insured,
        clinical=registered.clinical,
        identifiers=registered.identifiers,
        denied=registered.denied,
        patient_tokens=list(zip(residents, tokens, strict=True)),
        hospitals=hospitals,
        release_day=release_day,
    )


def fresh_tokens(plan: users.Plan, env: dict[str, str]) -> None:
    """Practitioner and cashier tokens just before the timed phase (the stack's tokens live
    300 s)."""
    wanted: list[tuple[str, str, str | None]] = [
        (f, "practitioner", None) for f in CLINICAL_FACILITIES
    ]
    wanted += [(f, "facility-system", "HPAYMT") for f in CLINICAL_FACILITIES]
    tokens = cli_tokens(env, wanted)
    n = len(CLINICAL_FACILITIES)
    plan.practitioner_tokens = dict(zip(CLINICAL_FACILITIES, tokens[:n], strict=True))
    plan.cashier_tokens = dict(zip(CLINICAL_FACILITIES, tokens[n:], strict=True))


def report_user_errors(recorder: Recorder) -> None:
    if recorder.user_errors:
        first = recorder.user_errors[0]
        print(
            f"  ERRORS raised in the users' own code: {len(recorder.user_errors)} (first: {first})"
        )


def report(
    title: str,
    samples: list[Sample],
    seconds: float,
    targets: dict[str, float],
) -> None:
    print(f"\n== {title}")
    rows = summarise(samples, seconds)
    print("\n".join(format_rows(rows, targets)))
    errors = sum(r.errors for r in rows)
    count = sum(r.count for r in rows)
    print(f"  all: {count} calls, {errors} errors ({errors / count if count else 0:.2%})")


def targets_of(mix: Mix) -> dict[str, float]:
    reads = mix.reads_per_s
    return {
        "read Patient/{id}": reads * 0.4,
        "search Patient?identifier": reads * 0.2,
        "search Observation?patient": reads * 0.2,
        "search Encounter?patient": reads * 0.2,
        "settle Claim/$submit": mix.settlements_per_s,
        "booking $find": mix.booking_attempts_per_s,
        "HL7 v2 ADT (ACK)": mix.hl7_per_s * 0.6,
        "HL7 v2 ORU (ACK)": mix.hl7_per_s * 0.25,
        "HL7 v2 SIU (ACK)": mix.hl7_per_s * 0.15,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the whole mix")
    parser.add_argument("--duration", type=float, default=120.0, help="timed seconds")
    parser.add_argument("--burst-start", type=float, default=30.0)
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--drain-budget", type=float, default=300.0)
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--sample-every", type=float, default=5.0)
    parser.add_argument("--patients", type=int, default=100, help="doctors' and cashiers'")
    parser.add_argument("--opt-out-share", type=float, default=0.1)
    parser.add_argument("--release-hospitals", type=int, default=3)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 1_000_000)
    args = parser.parse_args()
    layout = layout_from_env()
    if not layout.state_file.exists():
        sys.exit(f"no stack is running from {layout.run_dir} (scripts/stack up)")
    env = dict(os.environ)
    mix = Mix().scaled(args.scale)
    print(
        f"bench/stack_load.py --scale {args.scale:g} against {layout.public_url} and MLLP "
        f"127.0.0.1:{layout.mllp_port}; {uptime()} (a shared machine)"
    )
    plan = setup(args, layout, mix, env)
    counts: dict[type[User], int] = {
        users.FacilityFeed: users_for(mix.hl7_per_s, users.PACE["hl7"]),
        users.Doctor: users_for(mix.reads_per_s, users.PACE["reads"]),
        users.Cashier: users_for(mix.settlements_per_s, users.PACE["settlements"]),
        users.BookingPatient: len(plan.patient_tokens),
    }
    http_users = sum(n for kind, n in counts.items() if kind is not users.FacilityFeed)
    fresh_tokens(plan, env)

    baseline = Recorder()
    before = measure_cpu(layout)
    run_users(
        users.user_classes(plan, {users.Healthz: http_users}), args.baseline_seconds, baseline
    )
    report(
        f"baseline: nginx -> /healthz, {http_users} users without pause, "
        f"{args.baseline_seconds:.0f} s ({uptime()})",
        baseline.samples,
        args.baseline_seconds,
        {},
    )
    report_user_errors(baseline)
    print("  " + cpu_between(before, measure_cpu(layout)).line())

    watch = QueueWatch(layout, args.sample_every)
    recorder = Recorder()
    sampler: list[gevent.Greenlet] = []

    def started(t0: float) -> None:
        watch.t0 = t0
        plan.burst = (t0 + args.burst_start, t0 + args.burst_start + args.burst_seconds)
        sampler.append(gevent.spawn(watch.loop))

    print(
        f"\nmix x{args.scale:g}: {', '.join(f'{k.__name__} {v}' for k, v in counts.items())} "
        f"users; {args.duration:.0f} s, booking burst from {args.burst_start:.0f} s for "
        f"{args.burst_seconds:.0f} s"
    )
    before = measure_cpu(layout)
    run_users(users.user_classes(plan, counts), args.duration, recorder, started)
    during = cpu_between(before, measure_cpu(layout))
    gevent.killall(sampler)  # the drain below samples on its own
    load_at_stop = uptime()
    stopped = time.monotonic() - watch.t0
    start, end = args.burst_start, args.burst_start + args.burst_seconds
    targets = targets_of(mix)
    steady = [s for s in recorder.samples if not s.operation.startswith("booking")]
    report(
        f"the steady mix (HL7 v2, reads, settlements) x{args.scale:g}, whole run "
        f"({args.duration:.0f} s; {load_at_stop})",
        steady,
        args.duration,
        targets,
    )
    in_burst = [
        s for s in recorder.samples if start <= s.started < end or s.operation.startswith("booking")
    ]
    report(
        f"during the booking burst ({args.burst_seconds:.0f} s; booking calls of attempts begun "
        "in it, the steady mix begun in it)",
        in_burst,
        args.burst_seconds,
        targets,
    )
    quiet = [s for s in steady if not start <= s.started < end]
    report("the steady mix outside the burst", quiet, args.duration - args.burst_seconds, targets)
    report_user_errors(recorder)
    print("  " + during.line())

    drain_began = time.monotonic()
    while time.monotonic() - drain_began < args.drain_budget:
        depth = watch.sample()
        if depth == 0:
            break
        gevent.sleep(args.sample_every)
    drained = drain_seconds(watch.depths, stopped)
    print("\n== HL7 v2 inbox queue (received, not yet processed), seconds from the start: depth")
    print("  " + ", ".join(f"{at:.0f}: {depth}" for at, depth in thin(watch.depths, 30)))
    print(
        f"  load stopped at {stopped:.0f} s; after it the queue fell at "
        f"{drain_rate(watch.depths, stopped):.1f} messages/s"
    )
    if drained is None:
        left = watch.depths[-1][1] if watch.depths else -1
        print(f"  NOT drained {args.drain_budget:.0f} s after the load stopped: {left} waiting")
    else:
        print(
            f"  drained {drained:.0f} s after the load stopped (sampled every "
            f"{args.sample_every:.0f} s)"
        )
    print(
        f"  dead letters: {watch.dead[0] if watch.dead else '?'} at the start, "
        f"{watch.dead[-1] if watch.dead else '?'} at the end; {uptime()}"
    )


if __name__ == "__main__":
    main()
