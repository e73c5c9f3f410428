"""The fault run's own services: a PostgreSQL cluster and a RabbitMQ node in the run dir, which
the run may stop and restart (the machine's own at 5432 and 5672 are shared: never touched), and
the stack (hub/stack) on top of them.

PostgreSQL: ``initdb`` of Debian's 15 into ``<run>/postgres`` (run as the ``postgres`` user when
we are root: PostgreSQL refuses root), trust authentication on 127.0.0.1, its own port; stopped
with ``pg_ctl -m fast``. RabbitMQ: ``rabbitmq-server`` as node ``hub-fault@localhost`` with its
own AMQP and distribution ports, data, logs, pid file and Erlang cookie (``HOME``) in
``<run>/rabbitmq``, no plugins (so no management port to clash with the shared node); stopped
with ``rabbitmqctl stop``. Both run as their Debian service users when we are root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from hub.stack import control
from hub.stack.layout import Layout
from hub.stack.processes import Running, start, wait_ready
from hub.stack.secrets import ensure_secrets
from hub.stack.topology import hub_env, processes

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts Debian's /usr/sbin wrappers call


def _as_user(user: str) -> list[str]:
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _owned_dir(path: Path, user: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, user, user)
    return path


@dataclass
class OwnPostgres:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*_as_user("postgres"), str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def init(self) -> None:
        if self.root.exists():
            self.stop()
            shutil.rmtree(self.root)
        _owned_dir(self.root, "postgres")
        subprocess.run(
            [
                *_as_user("postgres"),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c max_connections=200"
        )
        self._ctl("-l", str(self.root / "postgres.log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("-m", mode, "-w", "stop")

    def connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )


@dataclass
class OwnRabbit:
    root: Path
    port: int
    node: str = "hub-fault@localhost"

    def env(self) -> dict[str, str]:
        root = self.root
        return {
            **os.environ,
            "HOME": str(root / "home"),  # its own Erlang cookie, for the server and rabbitmqctl
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 1),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_PID_FILE": str(root / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),  # absent: the defaults
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config"),
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_user("rabbitmq"), str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def init(self) -> None:
        if self.root.exists():
            self.stop()
            shutil.rmtree(self.root)
        for folder in ("home", "mnesia", "log"):
            _owned_dir(self.root / folder, "rabbitmq")
        (self.root / "enabled_plugins").write_text("")  # no management listener
        _owned_dir(self.root, "rabbitmq")

    def start(self) -> None:
        out = (self.root / "server.out").open("ab")
        subprocess.Popen(
            [*_as_user("rabbitmq"), str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        waited = self._ctl("wait", "--timeout", "90", str(self.root / "pid"), timeout=120)
        if waited.returncode != 0:
            raise RuntimeError(f"rabbitmq did not start: {waited.stdout[-500:]}{waited.stderr}")

    def stop(self) -> None:
        if (self.root / "pid").exists():
            self._ctl("stop", str(self.root / "pid"))


class Stack:
    """The stack on the run's own services, with what a supervisor would do: restart a process."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def up(self) -> None:
        self.layout.run_dir.mkdir(parents=True, exist_ok=True)
        self.layout.run_dir.chmod(0o755)  # PgBouncer runs as postgres when we are root
        control.up(self.layout)

    def down(self) -> None:
        control.down(self.layout)

    def process(self, name: str) -> Running:
        return next(p for p in control.load_state(self.layout) if p.name == name)

    def restart(self, name: str, timeout: float = 90) -> None:
        """Start ``name`` again as `up` did, wait until it is ready, record it in stack.json."""
        env = hub_env(self.layout, ensure_secrets(self.layout), os.environ)
        spec = next(s for s in processes(self.layout, env) if s.name == name)
        running = start(spec, self.layout.logs)
        wait_ready([running], timeout)
        state = [running if p.name == name else p for p in control.load_state(self.layout)]
        control.save_state(self.layout, state)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def busy_child(pid: int, title: str, within: float = 15.0, sample: float = 0.5) -> int | None:
    """A child of ``pid`` whose process title holds ``title`` (Celery's ``ForkPoolWorker``) and
    that used at least 5 % of a core over a ``sample`` (a pool process at work on a task): the
    busiest of the first sample that has one, tried for up to ``within`` seconds; else the
    busiest of the last sample (None without children)."""
    deadline = time.monotonic() + within
    while True:
        before = {child: cpu_ticks(child) for child in children(pid) if title in _title(child)}
        if not before:
            return None
        time.sleep(sample)
        used = {child: cpu_ticks(child) - ticks for child, ticks in before.items()}
        busiest = max(used, key=lambda child: used[child])
        if used[busiest] * 0.01 >= 0.05 * sample or time.monotonic() > deadline:  # 100 ticks/s
            return busiest


def _title(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""
