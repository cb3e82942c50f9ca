from datetime import UTC, datetime, timedelta, timezone

import pytest

from devhost.ncrontab import (
    CronSchedule,
    IntervalSchedule,
    ScheduleError,
    parse_schedule,
    parse_timespan,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def occurrences(expression: str, start: str, count: int) -> list[str]:
    schedule = parse_schedule(expression)
    moment = at(start)
    found = []
    for _ in range(count):
        moment = schedule.next_after(moment)
        found.append(moment.strftime("%Y-%m-%d %H:%M:%S"))
    return found


@pytest.mark.parametrize(
    ("expression", "start", "expected"),
    [
        # Every second: strictly after, and fractions of a second are dropped.
        ("* * * * * *", "2024-05-01T10:00:00.500", ["2024-05-01 10:00:01", "2024-05-01 10:00:02"]),
        # Every five minutes, as in the Functions documentation.
        ("0 */5 * * * *", "2024-05-01T10:03:00", ["2024-05-01 10:05:00", "2024-05-01 10:10:00"]),
        # Once at the top of every hour.
        ("0 0 * * * *", "2024-05-01T23:30:00", ["2024-05-02 00:00:00", "2024-05-02 01:00:00"]),
        # Every two hours: 0, 2, 4 ...
        ("0 0 */2 * * *", "2024-05-01T01:00:00", ["2024-05-01 02:00:00", "2024-05-01 04:00:00"]),
        # Every hour from 9 to 17.
        ("0 0 9-17 * * *", "2024-05-01T17:00:00", ["2024-05-02 09:00:00", "2024-05-02 10:00:00"]),
        # 09:30 every weekday (1-5); 2024-05-03 is a Friday.
        ("0 30 9 * * 1-5", "2024-05-03T10:00:00", ["2024-05-06 09:30:00", "2024-05-07 09:30:00"]),
        # Names, lists and Sunday as 0: 2024-05-05 is a Sunday.
        (
            "0 0 12 * * Sun,Wed",
            "2024-05-01T12:00:00",
            ["2024-05-05 12:00:00", "2024-05-08 12:00:00"],
        ),
        # Midnight on the first of January and July, across a year boundary.
        ("0 0 0 1 Jan,7 *", "2024-07-01T00:00:00", ["2025-01-01 00:00:00", "2025-07-01 00:00:00"]),
        # A stepped range within a list.
        (
            "10-30/10,45 0 0 * * *",
            "2024-05-01T00:00:00",
            [
                "2024-05-01 00:00:10",
                "2024-05-01 00:00:20",
                "2024-05-01 00:00:30",
                "2024-05-01 00:00:45",
                "2024-05-02 00:00:10",
            ],
        ),
        # The 31st skips the months without one.
        ("0 0 0 31 * *", "2024-01-31T00:00:00", ["2024-03-31 00:00:00", "2024-05-31 00:00:00"]),
        # 29 February only in leap years.
        ("0 0 0 29 2 *", "2024-03-01T00:00:00", ["2028-02-29 00:00:00"]),
        # Day-of-month AND day-of-week (NCrontab), not OR: Friday the 13th.
        ("0 0 0 13 * 5", "2024-01-01T00:00:00", ["2024-09-13 00:00:00", "2024-12-13 00:00:00"]),
        # "a/n" starts at a and runs to the end of the field.
        ("0 5/20 * * * *", "2024-05-01T10:30:00", ["2024-05-01 10:45:00", "2024-05-01 11:05:00"]),
    ],
)
def test_known_schedules(expression: str, start: str, expected: list[str]) -> None:
    assert occurrences(expression, start, len(expected)) == expected


def test_next_after_converts_other_time_zones_to_utc() -> None:
    sydney_morning = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=10)))
    assert parse_schedule("0 0 * * * *").next_after(sydney_morning) == at("2024-05-01T01:00:00")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_schedule("* * * * * *").next_after(datetime(2024, 5, 1))


def test_parsed_fields_are_exposed() -> None:
    schedule = parse_schedule("0 15,45 8-10 * * 1-5")
    assert isinstance(schedule, CronSchedule)
    assert schedule.minutes == {15, 45}
    assert schedule.hours == {8, 9, 10}
    assert schedule.weekdays == {1, 2, 3, 4, 5}
    assert schedule.days == set(range(1, 32))


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("00:00:05", timedelta(seconds=5)),
        ("01:00:00", timedelta(hours=1)),
        ("00:30", timedelta(minutes=30)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_timespan_schedules_are_intervals(text: str, interval: timedelta) -> None:
    assert parse_timespan(text) == interval
    schedule = parse_schedule(text)
    assert schedule == IntervalSchedule(interval)
    assert schedule.next_after(at("2024-05-01T10:00:00")) == at("2024-05-01T10:00:00") + interval


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",  # five fields: classic cron, not NCRONTAB
        "* * * * * * *",
        "60 * * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * * 13 *",
        "* * * * * 7",
        "*/0 * * * * *",
        "5-1 * * * * *",
        "a * * * * *",
        "* * * * Foo *",
        "00:00:00",
        "25:00:00",
        "",
    ],
)
def test_invalid_schedules_are_refused(expression: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(expression)


def test_impossible_schedule_is_reported_not_looped() -> None:
    schedule = parse_schedule("0 0 0 30 2 *")
    with pytest.raises(ScheduleError, match="never occurs"):
        schedule.next_after(at("2024-01-01T00:00:00"))
