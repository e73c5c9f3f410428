"""Starting, probing and stopping the stack's processes; what runs is recorded in JSON.

Each process runs in a session of its own (its children, e.g. uvicorn's workers, share its
process group), with stdout and stderr in its log file. ``stack.json`` keeps each one's pid,
start time (so a reused pid is never signalled), port, log and readiness probe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import psycopg

POLL_SECONDS = 0.25
KILL_WAIT_SECONDS = 5.0  # SIGKILL takes effect when the process is next scheduled


@dataclass(frozen=True)
class Probe:
    """How to tell a process is ready: an HTTP 200, an open TCP port, a ``SELECT 1`` (a
    PostgreSQL URL), or a line in its log."""

    kind: Literal["http", "tcp", "sql", "log"]
    target: str  # URL, port, connection string, or the log text
    ca_file: str | None = None  # https: the certificate to trust

    def ready(self, log: Path) -> bool:
        try:
            if self.kind == "http":
                return _http_ok(self.target, self.ca_file)
            if self.kind == "tcp":
                with socket.create_connection(("127.0.0.1", int(self.target)), timeout=1):
                    return True
            if self.kind == "sql":
                with psycopg.connect(self.target, connect_timeout=2, prepare_threshold=None) as c:
                    return c.execute("SELECT 1").fetchone() == (1,)
            return log.exists() and self.target in log.read_text(errors="replace")
        except (OSError, psycopg.Error):
            return False


def _http_ok(url: str, ca_file: str | None) -> bool:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    with urllib.request.urlopen(url, timeout=2, context=context) as response:
        return bool(response.status == 200)


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    probe: Probe
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    # start the next only once this one and those before are ready (what they depend on)
    gate: bool = False


@dataclass(frozen=True)
class Running:
    name: str
    pid: int
    started: str  # /proc/<pid>/stat start time: the pid is still this process
    port: int | None
    log: str
    probe: Probe
    argv: list[str]

    def alive(self) -> bool:
        return _start_time(self.pid) == self.started

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Running:
        probe = data["probe"]
        assert isinstance(probe, dict)
        values = {**data, "probe": Probe(**probe)}
        return cls(**values)  # type: ignore[arg-type]

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def start(spec: ProcessSpec, logs: Path) -> Running:
    log_path = logs / f"{spec.name}.log"
    if log_path.exists():  # the last run's, kept once (a probe reads only this run's lines)
        log_path.replace(log_path.with_suffix(".log.1"))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=spec.env or None,
            start_new_session=True,  # its own process group: stopped with its children
        )
    started = _start_time(process.pid) or ""
    return Running(spec.name, process.pid, started, spec.port, str(log_path), spec.probe,
                   spec.argv)  # fmt: skip


class NotReady(RuntimeError):
    """A process exited or did not become ready in time (the message names it and its log)."""


def wait_ready(running: list[Running], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(running)
    while waiting:
        for process in list(waiting):
            if not process.alive():
                raise NotReady(f"{process.name} exited; its log: {process.log}\n{tail(process)}")
            if process.probe.ready(Path(process.log)):
                waiting.remove(process)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(p.name for p in waiting)
            raise NotReady(f"not ready after {timeout:.0f} s: {names}\n{tail(waiting[0])}")
        if waiting:
            time.sleep(POLL_SECONDS)


def stop(running: list[Running], grace: float) -> None:
    """SIGTERM to each process group, up to ``grace`` seconds to end, then SIGKILL."""
    live = [p for p in running if p.alive()]
    for process in live:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(p.alive() for p in live) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    for process in live:
        if process.alive():
            _signal_group(process.pid, signal.SIGKILL)
    for process in live:  # the group's other members (uvicorn's and Celery's workers)
        _signal_group(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while any(p.alive() for p in live) and time.monotonic() < deadline:
        for process in live:  # reap our own children (an `up` that failed half-way)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, os.WNOHANG)
        time.sleep(POLL_SECONDS / 5)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; None when gone (or a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def tail(process: Running, lines: int = 15) -> str:
    path = Path(process.log)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
