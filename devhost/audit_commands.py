"""`donatello audit verify|export|replay`: the log read in place.

Verify recomputes the local log's chains and seals, split between processes (one per
CPU) when the log is long. Export and replay
read the event store directly through the service layer (the composition root's event
store), not over HTTP: an export of millions of events streams from the store to the
file one page at a time. They act as an operator holding the Compliance.Auditor role,
named `operator:<OS user>` unless `--as` names someone, and that person's read is
recorded in the log like any other.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from domain.access import Principal, Role
from domain.event_types import EVENT_TYPES
from services.audit_export import write_csv, write_jsonl
from services.audit_log import EventFilter, about_subject, export_events
from services.audit_reads import AuditAccess
from services.audit_story import replay
from services.audit_verify import verify_log
from services.errors import NotFound
from services.ports import EventStore, ViewReader
from services.subject_streams import SubjectIndex

WRITERS = {"jsonl": write_jsonl, "csv": write_csv}


def add_audit_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `verify`, `export` and `replay` to the `audit` command's subcommands."""
    verify = commands.add_parser(
        "verify", help="recompute every hash chain and seal; exit 1 on any problem"
    )
    verify.add_argument("--since", type=int, default=None, help="verify from this seal on")
    verify.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="split the chains between this many processes (default: one per CPU)",
    )
    verify.set_defaults(run=_verify)

    export = commands.add_parser("export", help="write the log, filtered, as JSON Lines or CSV")
    export.add_argument("--from", dest="recorded_from", type=_moment, help="ISO 8601, with offset")
    export.add_argument("--to", dest="recorded_to", type=_moment, help="exclusive; with offset")
    export.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        choices=sorted(EVENT_TYPES),
        metavar="TYPE",
        help="repeatable; an event type (README: Audit trail)",
    )
    export.add_argument("--user", help="the acting user's id")
    export.add_argument(
        "--subject", help="every event about this person, their generations' later steps too"
    )
    export.add_argument("--department", help="the department named in the event's data")
    export.add_argument("--format", choices=sorted(WRITERS), default="jsonl")
    export.add_argument("--output", type=Path, help="write here instead of standard output")
    export.add_argument("--as", dest="reader", help="who is reading (recorded in the log)")
    export.set_defaults(run=_export)

    story = commands.add_parser("replay", help="tell a stream's story with its states")
    story.add_argument("stream")
    story.add_argument("--as", dest="reader", help="who is reading (recorded in the log)")
    story.set_defaults(run=_replay)


def _verify(args: argparse.Namespace) -> int:
    """One line per problem, then a summary; exit code 1 on any problem, 2 if unreadable."""
    from bootstrap import audit_log, seal_store, settings

    config = settings()
    log = audit_log(config)
    try:
        report = verify_log(
            log, seal_store(config), since=args.since, processes=max(1, args.processes)
        )
    except NotFound as error:
        print(f"cannot verify: {error}")
        return 2
    finally:
        log.close()
    for problem in report.problems:
        print(problem.line())
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    print(
        f"{verdict}: {report.events} events in {report.streams} streams from position"
        f" {report.from_position} to {report.up_to_position}, {report.seals} seal(s) checked"
    )
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    wanted = EventFilter(
        recorded_from=args.recorded_from,
        recorded_to=args.recorded_to,
        types=frozenset(args.types),
        user_id=args.user,
        department_id=args.department,
        subject_id=args.subject,
    )
    if args.subject is not None:
        wanted = replace(wanted, subject_streams=about_subject(_index(), args.subject))
    events = export_events(_log(), _reader(args.reader), wanted, command="audit export")
    write = WRITERS[args.format]
    target = args.output
    sink = nullcontext(sys.stdout) if target is None else target.open("w", newline="")
    with sink as out:
        count = write(events, out)
    print(f"exported {count} events", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    try:
        lines = replay(_log(), _reader(args.reader), args.stream)
    except NotFound as error:
        print(error, file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0


def _log() -> AuditAccess:
    from bootstrap import audit_access, settings

    return audit_access(settings())


def _index() -> SubjectIndex:
    from bootstrap import event_store, settings, view_store

    config = settings()
    return _Index(store=event_store(config), views=view_store(config))


@dataclass(frozen=True, slots=True)
class _Index:
    store: EventStore
    views: ViewReader


def _reader(name: str | None) -> Principal:
    return Principal(
        user_id=name or f"operator:{getpass.getuser()}",
        roles=frozenset({Role.COMPLIANCE_AUDITOR}),
        department_id=None,
        tenant_id=None,
    )


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, as in ...T10:00:00Z")
    return moment
