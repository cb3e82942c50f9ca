"""`donatello projections rebuild`: rebuild the views beside the live ones, compare, swap.

On the embedded shape the rebuild replays the SQLite log into a file beside `views.db`
(`adapters/sqlite_view_rebuild.py`). On the Azure shape (`DONATELLO_EVENT_STORE=cosmos`)
the views are Cosmos DB documents fed by the change-feed triggers: the rebuild builds
the projection's next version from the start of the change feed under a lease of its
own, swaps it in, and deletes the old one (`adapters/cosmos_view_rebuild.py`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from projections import ALL_PROJECTIONS
from projections.base import Projection
from projections.rebuild import Difference, RebuildFailed

if TYPE_CHECKING:
    from services.settings import Settings

SHOWN_DIFFERENCES = 20  # per projection; the count says how many more there are


def add_projection_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("projections", help="manage the projection views")
    actions = group.add_subparsers(dest="action", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="replay from zero beside the live views, compare, then swap"
    )
    rebuild.add_argument(
        "names", nargs="*", metavar="NAME", help="projections to rebuild (default: all)"
    )
    rebuild.add_argument("--dry-run", action="store_true", help="compare only; do not swap")
    rebuild.add_argument("--workers", type=int, default=1, help="processes replaying side by side")


def run_projection_command(args: argparse.Namespace) -> int:
    from bootstrap import rebuild_embedded_views, settings

    config = settings()
    projections = chosen(args.names)
    if config.event_store == "cosmos":
        if args.workers != 1:
            print("--workers is for the embedded shape: one reader reads the change feed")
        return _rebuild_on_cosmos(config, projections, dry_run=args.dry_run)
    report = rebuild_embedded_views(config, projections, dry_run=args.dry_run, workers=args.workers)
    for name in report.projections:
        differing = [d for d in report.differences if d.projection == name]
        print(
            f"{name}: {report.documents[name]} documents at position {report.positions[name]},"
            f" {len(differing)} differing from the live view"
        )
        _show(differing)
    print(f"replayed {report.events_replayed} events in {report.seconds:.2f} s")
    print("swapped the rebuilt views in" if report.swapped else "dry run: nothing swapped")
    return 0


def _rebuild_on_cosmos(
    config: Settings, projections: Sequence[Projection], *, dry_run: bool
) -> int:
    from bootstrap import cosmos_view_rebuild

    rebuild = cosmos_view_rebuild(config, progress=lambda line: print(line, flush=True))
    try:
        report = rebuild.rebuild(projections, dry_run=dry_run)
    except RebuildFailed as failed:
        print(f"rebuild failed: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    for rebuilt in report:
        print(
            f"{rebuilt.projection}: version {rebuilt.version}, {rebuilt.documents} documents,"
            f" {len(rebuilt.differences)} differing from the live view"
        )
        _show(rebuilt.differences)
    print(
        "swapped the rebuilt versions in, deleted the old ones"
        if not dry_run
        else "dry run: nothing swapped, the rebuilt versions deleted"
    )
    return 0


def _show(differing: Sequence[Difference]) -> None:
    for difference in differing[:SHOWN_DIFFERENCES]:
        print(f"  {difference.kind:8} {difference.key}")
    if len(differing) > SHOWN_DIFFERENCES:
        print(f"  ... and {len(differing) - SHOWN_DIFFERENCES} more")


def chosen(names: Sequence[str]) -> list[Projection]:
    known = {p.name: p for p in ALL_PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"no projection {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(ALL_PROJECTIONS)
