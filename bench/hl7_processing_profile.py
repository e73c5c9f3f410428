"""Where the worker's time goes: HL7 v2 messages from the inbox to the FHIR store, in-process.

    .venv/bin/python bench/hl7_processing_profile.py [--backend sqlite|postgresql]
        [--messages 300] [--adt-only] [--profile] [--html out.html]

A fresh database (a temporary SQLite file, or a new PostgreSQL database dropped afterwards),
``--messages`` messages of bench/hl7_data.py's feed checked by the listener's intake and committed
to the inbox as the listener does, then every facility drained by ``process_facility`` in this
process (batches as in production), timed; with ``--profile`` under pyinstrument (printed, or
written as HTML). Bounded: the feed is processed once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import fresh_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--adt-only", action="store_true")
    parser.add_argument("--profile", action="store_true", help="run under pyinstrument")
    parser.add_argument("--html", help="write pyinstrument's HTML report here")
    parser.add_argument("--warmup", type=int, default=20, help="messages processed untimed first")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="hl7-profile-") as tmp,
        fresh_database(args.backend, Path(tmp), "hub_profile") as url,
    ):
        os.environ.update(HUB_DATABASE_URL=url, HUB_VAR_DIR=str(Path(tmp) / "var"),
                          HUB_CELERY_BROKER_URL="")  # fmt: skip
        run(args)


def run(args: argparse.Namespace) -> None:
    from hl7_data import feed

    from adapters.hl7v2.gateway import facilities_by_sending_name
    from adapters.hl7v2.inbox import commit_frames
    from adapters.hl7v2.intake import Intake, Sender
    from adapters.hl7v2.processing import drain_facility
    from hub.migrate import upgrade_database
    from hub.region.facilities import load_facilities
    from hub.security.fields import get_cipher
    from hub.settings import get_settings
    from hub.wiring import wire

    # After the environment names the fresh database: wiring reads the settings, which are cached.
    wire()  # the write hooks and subscribers, as the app and the worker have them
    upgrade_database()
    settings, cipher = get_settings(), get_cipher()
    intake = Intake(facilities_by_sending_name(load_facilities()), settings.hl7_default_charset)
    messages = feed(args.warmup + args.messages, seed=12 if args.adt_only else 11,
                    adt_only=args.adt_only)  # fmt: skip
    frames = [intake.check(m.payload, Sender("127.0.0.1:1")) for m in messages]
    assert all(f.accepted for f in frames), "the feed was refused"
    codes = sorted({f.facility_code for f in frames if f.facility_code})

    def drain() -> int:
        return sum(drain_facility(code).processed for code in codes)

    commit_frames(cipher, frames[: args.warmup])
    drain()  # imports, caches, first connections
    commit_frames(cipher, frames[args.warmup :])
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    statements = StatementCounter()
    start = time.perf_counter()
    done = drain()
    elapsed = time.perf_counter() - start
    statements.stop()
    if profiler is not None:
        profiler.stop()
        if args.html:
            Path(args.html).write_text(profiler.output_html(), encoding="utf-8")
        else:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"{args.backend}: {done} of {args.messages} messages processed in {elapsed:.2f} s: "
          f"{done / elapsed:,.1f} msgs/s, {elapsed / max(done, 1) * 1000:.1f} ms/msg"
          f"{' (under the profiler)' if profiler else ''}; "
          f"{statements.count / max(done, 1):.1f} SQL statements per message")  # fmt: skip


class StatementCounter:
    """Statements the engine sends while it runs (the round trips a message costs)."""

    def __init__(self) -> None:
        from sqlalchemy import event

        from hub.db import get_engine

        self.count = 0
        self.engine = get_engine()
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def stop(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._seen)


if __name__ == "__main__":
    main()
