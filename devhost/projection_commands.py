"""`donatello projections rebuild`: rebuild the embedded shape's views beside the live ones.

On Azure the views live in Cosmos DB, fed by the change-feed triggers; a rebuild there
is a new lease prefix and a new view namespace (a projection version), fed from the
start of the change feed, and the readers switched once it has caught up. That is not
implemented; this command refuses to run against Cosmos.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from projections import ALL_PROJECTIONS
from projections.base import Projection

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
    if config.event_store == "cosmos":
        print("rebuild is implemented for the embedded (SQLite) shape only; see the README")
        return 2
    projections = chosen(args.names)
    report = rebuild_embedded_views(config, projections, dry_run=args.dry_run, workers=args.workers)
    for name in report.projections:
        differing = [d for d in report.differences if d.projection == name]
        print(
            f"{name}: {report.documents[name]} documents at position {report.positions[name]},"
            f" {len(differing)} differing from the live view"
        )
        for difference in differing[:SHOWN_DIFFERENCES]:
            print(f"  {difference.kind:8} {difference.key}")
        if len(differing) > SHOWN_DIFFERENCES:
            print(f"  ... and {len(differing) - SHOWN_DIFFERENCES} more")
    print(f"replayed {report.events_replayed} events in {report.seconds:.2f} s")
    print("swapped the rebuilt views in" if report.swapped else "dry run: nothing swapped")
    return 0


def chosen(names: Sequence[str]) -> list[Projection]:
    known = {p.name: p for p in ALL_PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"no projection {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(ALL_PROJECTIONS)
