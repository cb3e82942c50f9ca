"""Timer schedules as Azure Functions reads them: 6-field NCRONTAB or a TimeSpan.

NCRONTAB fields are ``second minute hour day month day-of-week``. As in the NCrontab
library the Functions host uses, a day must match both the day-of-month and the
day-of-week fields (not either, as in Vixie cron). Times are UTC: the host evaluates
schedules in UTC unless WEBSITE_TIME_ZONE is set, and the embedded host never sets it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# Far enough for any satisfiable schedule (29 February on a given weekday recurs within 28 years).
_SEARCH_HORIZON = timedelta(days=366 * 29)
_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}))?$")


class ScheduleError(ValueError):
    """The expression is neither a valid 6-field NCRONTAB nor a TimeSpan."""


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment``, in UTC."""
        ...


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31),
    _Field("month", 1, 12, _MONTH_NAMES, 1),
    _Field("day-of-week", 0, 6, _DAY_NAMES, 0),
)


@dataclass(frozen=True, slots=True)
class CronSchedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def next_after(self, moment: datetime) -> datetime:
        start = _as_utc(moment).replace(microsecond=0) + timedelta(seconds=1)
        candidate = start
        while candidate - start < _SEARCH_HORIZON:
            if candidate.month not in self.months:
                candidate = _first_of_next_month(candidate)
            elif not self._day_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0, second=0) + timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate = candidate.replace(second=0) + timedelta(minutes=1)
            elif candidate.second not in self.seconds:
                candidate += timedelta(seconds=1)
            else:
                return candidate
        raise ScheduleError(f"schedule {self.expression!r} never occurs")

    def _day_matches(self, moment: datetime) -> bool:
        # Python's isoweekday is Monday=1..Sunday=7; NCRONTAB is Sunday=0..Saturday=6.
        return moment.day in self.days and moment.isoweekday() % 7 in self.weekdays


@dataclass(frozen=True, slots=True)
class IntervalSchedule:
    """The TimeSpan form ("hh:mm:ss"): a fixed interval from the previous occurrence."""

    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return _as_utc(moment) + self.interval


def parse_schedule(expression: str) -> CronSchedule | IntervalSchedule:
    text = expression.strip()
    if _TIMESPAN.match(text):
        return IntervalSchedule(parse_timespan(text))
    parts = text.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleError(
            f"schedule {expression!r} has {len(parts)} fields; NCRONTAB needs 6 "
            "(second minute hour day month day-of-week) or a TimeSpan hh:mm:ss"
        )
    values = [
        _parse_field(part, spec, expression) for part, spec in zip(parts, _FIELDS, strict=True)
    ]
    return CronSchedule(text, *values)


def parse_timespan(text: str) -> timedelta:
    """A .NET TimeSpan in the forms host.json and timer triggers use: [d.]hh:mm[:ss]."""
    match = _TIMESPAN.match(text.strip())
    if match is None:
        raise ScheduleError(f"{text!r} is not a TimeSpan ([d.]hh:mm[:ss])")
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ScheduleError(f"{text!r} is not a TimeSpan: a component is out of range")
    interval = timedelta(
        days=int(match["days"] or 0), hours=hours, minutes=minutes, seconds=seconds
    )
    if interval <= timedelta(0):
        raise ScheduleError(f"{text!r} is not a positive interval")
    return interval


def _parse_field(text: str, spec: _Field, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, spec, expression))
    return frozenset(values)


def _parse_item(item: str, spec: _Field, expression: str) -> range:
    def fail(why: str) -> ScheduleError:
        return ScheduleError(f"schedule {expression!r}: {spec.name} {item!r} {why}")

    span, _, step_text = item.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) == 0:
            raise fail("has an invalid step")
        step = int(step_text)
    if span == "*":
        low, high = spec.low, spec.high
    elif "-" in span:
        first, _, last = span.partition("-")
        low, high = _value(first, spec, fail), _value(last, spec, fail)
        if low > high:
            raise fail("is a descending range")
    else:
        low = _value(span, spec, fail)
        # "a/n" runs from a to the end of the field, as in NCrontab.
        high = spec.high if step_text else low
    return range(low, high + 1, step)


def _value(text: str, spec: _Field, fail: _FailFactory) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.names_start
    if not text.isdigit():
        raise fail("is not a number")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise fail(f"is outside {spec.low}-{spec.high}")
    return value


class _FailFactory(Protocol):
    def __call__(self, why: str) -> ScheduleError: ...


def _first_of_next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedules need an aware datetime; the host runs timers in UTC")
    return moment.astimezone(UTC)
