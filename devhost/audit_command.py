"""`donatello audit verify`: the local log and seals, verified in this process."""

from __future__ import annotations

import sys
from typing import TextIO

from services.audit_verify import verify_log


def verify(since: int | None, out: TextIO = sys.stdout) -> int:
    """One line per problem, then a summary; exit code 1 on any problem, 2 if unreadable."""
    from bootstrap import audit_log, seal_store, settings
    from services.errors import NotFound

    config = settings()
    log = audit_log(config)
    try:
        report = verify_log(log, seal_store(config), since=since)
    except NotFound as error:
        print(f"cannot verify: {error}", file=out)
        return 2
    finally:
        log.close()
    for problem in report.problems:
        print(problem.line(), file=out)
    verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    print(
        f"{verdict}: {report.events} events in {report.streams} streams from position"
        f" {report.from_position} to {report.up_to_position}, {report.seals} seal(s) checked",
        file=out,
    )
    return 0 if report.ok else 1
