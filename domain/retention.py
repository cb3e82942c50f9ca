"""The retention policy: how long what the audit trail rests on is kept.

Events, seals and images are kept for at least `retention_years` (the setting; seven by
default, and never fewer). docs/retention.md says where each store is configured for it.
"""

from __future__ import annotations

from datetime import datetime

MINIMUM_YEARS = 7


def retained_until(recorded_at: datetime, years: int) -> datetime:
    """The earliest instant at which something recorded at `recorded_at` may go: the same
    calendar moment `years` later (29 February becomes 1 March)."""
    if years < MINIMUM_YEARS:
        raise ValueError(f"retention is at least {MINIMUM_YEARS} years, not {years}")
    try:
        return recorded_at.replace(year=recorded_at.year + years)
    except ValueError:  # 29 February in a year that has none
        return recorded_at.replace(year=recorded_at.year + years, month=3, day=1)
