"""What bench/stack_load.py watches besides the calls: the CPU that the generator, the stack's
processes and the whole machine use, the load average, and the HL7 v2 inbox queue from the
stack's ``/metrics`` (through nginx, with the stack's metrics token)."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass

import gevent
import psutil
from stack_figures import gauge_value

from hub.stack.layout import Layout

QUEUE = "hub_hl7_inbox_messages"


@dataclass
class Cpu:
    """CPU seconds used between two points: this process, the stack's processes, the machine."""

    generator: float
    stack: float
    machine: float
    wall: float

    def line(self) -> str:
        cores = psutil.cpu_count() or 1
        return (
            f"CPU over {self.wall:.0f} s (cores busy, of {cores}): generator (this "
            f"process) {self.generator / self.wall:.2f}, stack processes "
            f"{self.stack / self.wall:.2f}, whole machine {self.machine / self.wall:.2f} "
            "(PostgreSQL, RabbitMQ and other sessions' work are in the machine's figure)"
        )


def _stack_processes(layout: Layout) -> list[psutil.Process]:
    state = json.loads(layout.state_file.read_text())
    found = []
    for entry in state["processes"]:
        try:
            parent = psutil.Process(entry["pid"])
            found += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return found


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def measure_cpu(layout: Layout) -> tuple[float, float, float, float]:
    machine = psutil.cpu_times()
    busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
    me = psutil.Process().cpu_times()
    return (me.user + me.system, _cpu_seconds(_stack_processes(layout)), busy, time.monotonic())


def cpu_between(first: tuple[float, ...], last: tuple[float, ...]) -> Cpu:
    return Cpu(*(b - a for a, b in zip(first, last, strict=True)))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class QueueWatch:
    """Samples the HL7 inbox gauges from the stack's /metrics (through nginx) every few s."""

    def __init__(self, layout: Layout, every: float) -> None:
        self.url = f"{layout.public_url}/metrics"
        self.token = (layout.run_dir / "secrets" / "metrics_token").read_text().strip()
        self.trust = ssl.create_default_context(cafile=str(layout.tls_cert))
        self.every = every
        self.depths: list[tuple[float, int]] = []
        self.dead: list[int] = []
        self.t0 = 0.0

    def read(self) -> tuple[int, int] | None:
        request = urllib.request.Request(
            self.url, headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, context=self.trust, timeout=30) as answer:
                text = answer.read().decode()
        except OSError:
            return None
        received = gauge_value(text, QUEUE, {"status": "received"})
        dead = gauge_value(text, QUEUE, {"status": "dead"})
        return (int(received or 0), int(dead or 0)) if received is not None else None

    def sample(self) -> int | None:
        value = self.read()
        if value is None:
            return None
        self.depths.append((time.monotonic() - self.t0, value[0]))
        self.dead.append(value[1])
        return value[0]

    def loop(self) -> None:
        while True:
            self.sample()
            gevent.sleep(self.every)
