"""Deadlines on the official calendar, and provisional ones for years it does not cover."""

from datetime import date

import pytest

from kb.workdays import (
    InvalidCalendar,
    WorkCalendar,
    parse_schedule,
    statutory_holidays,
)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 27), 5, date(2026, 12, 4)),  # Friday → next Friday
        # Spring Festival 2026: 15-23 February off; Saturday 14 and 28 February are worked.
        (date(2026, 2, 12), 5, date(2026, 2, 26)),
        (date(2026, 2, 12), 1, date(2026, 2, 13)),
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # the make-up Saturday counts
        # Labour Day 2026: 1-5 May off; Saturday 9 May is worked.
        (date(2026, 4, 30), 5, date(2026, 5, 11)),
        (date(2026, 4, 30), 4, date(2026, 5, 9)),
        # National Day 2026: 1-7 October off, Saturday 10 October is a 调休 working day.
        (date(2026, 9, 30), 5, date(2026, 10, 13)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        (date(2026, 12, 4), -5, date(2026, 11, 27)),
    ],
)
def test_official_calendar(start: date, days: int, expected: date) -> None:
    deadline = WorkCalendar().add(start, days)
    assert (deadline.day, deadline.provisional) == (expected, False)


def test_a_year_without_an_official_schedule_is_provisional() -> None:
    calendar = WorkCalendar()
    # 元旦 2027 is a holiday even before the State Council's schedule.
    assert calendar.add(date(2026, 12, 24), 5).day == date(2026, 12, 31)
    deadline = calendar.add(date(2026, 12, 28), 5)
    assert deadline == deadline.__class__(date(2027, 1, 5), True)
    # 春节 2027: 除夕 is 5 February, 初一 to 初三 6-8 February.
    assert {date(2027, 2, n) for n in (5, 6, 7, 8)} <= statutory_holidays(2027)
    assert calendar.add(date(2027, 2, 4), 1).day == date(2027, 2, 9)


def test_a_loaded_schedule_replaces_the_guess() -> None:
    schedule = parse_schedule(["# 2027 official", "2027-01-01 holiday", "2027-01-02 holiday",
                               "2027-01-03 holiday", "2027-01-04 holiday",
                               "2027-01-09 workday"])
    calendar = WorkCalendar(schedule)
    deadline = calendar.add(date(2026, 12, 28), 5)
    # 29, 30, 31 December, then 5 and 6 January: the 4th was made a holiday.
    assert (deadline.day, deadline.provisional) == (date(2027, 1, 6), False)
    assert calendar.is_working_day(date(2027, 1, 9))  # a Saturday made a working day


@pytest.mark.parametrize(("lines", "message"), [
    (["2027-01-01 holiday", "2027-13-01 holiday"], "line 2"),
    (["2027-01-01 holiday", "", "2027-01-02 sometimes"], "line 3"),
    (["2027-01-01"], "line 1"),
    (["2027-01-01 holiday", "2027-01-01 workday"], "line 2: 2027-01-01 is listed as both"),
    (["# nothing"], "lists no dates"),
])
def test_a_bad_line_rejects_the_file(lines: list[str], message: str) -> None:
    with pytest.raises(InvalidCalendar, match=message):
        parse_schedule(lines)
