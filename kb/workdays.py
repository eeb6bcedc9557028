"""Working days on the official Chinese calendar (holidays and 调休 make-up days).

Three sources, most authoritative first: a year's official schedule loaded by an administrator
(`xiaoshen workday load`), the `chinese-calendar` package, and, for a year neither covers yet
(the State Council publishes each year's schedule late in the year before), weekends plus the
fixed statutory holidays. Anything counted the last way is *provisional*.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
from lunardate import LunarDate

from kb import clock
from kb.errors import KnowledgeBaseError

HOLIDAY, WORKDAY = "holiday", "workday"


class InvalidCalendar(KnowledgeBaseError):
    """A calendar file with a bad line: nothing of it was loaded."""


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[date]:
    """The fixed statutory holidays of `year`, at their current lengths (国务院《全国年节及
    纪念日放假办法》 as amended in 2024), without the make-up days only the yearly schedule sets."""
    def lunar(month: int, day: int, lunar_year: int = year) -> date:
        return LunarDate(lunar_year, month, day).to_solar_date()

    new_year_eve = lunar(1, 1) - timedelta(days=1)  # 除夕: the day before 正月初一
    [(qingming, _)] = chinese_calendar.get_solar_terms(date(year, 4, 3), date(year, 4, 6))
    days = {date(year, 1, 1), qingming, lunar(5, 5), lunar(8, 15)}
    days |= {new_year_eve + timedelta(days=n) for n in range(4)}  # 除夕 and 初一 to 初三
    days |= {date(year, 5, n) for n in (1, 2)}
    days |= {date(year, 10, n) for n in (1, 2, 3)}
    return frozenset(day for day in days if day.year == year)


def library_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class Deadline:
    day: date
    provisional: bool  # counted over a year without an official schedule


class WorkCalendar:
    """Working days, with the official schedules loaded into the database (if any)."""

    def __init__(self, loaded: dict[date, str] | None = None) -> None:
        self.loaded = loaded or {}
        self.loaded_years = {day.year for day in self.loaded}

    @classmethod
    def of(cls, db) -> WorkCalendar:
        """The calendar with the schedules loaded into `db` (a sqlite_utils Database)."""
        return cls({date.fromisoformat(row["day"]): row["kind"]
                    for row in db["calendar_days"].rows})

    def is_official(self, year: int) -> bool:
        return year in self.loaded_years or library_covers(year)

    def is_working_day(self, day: date) -> bool:
        if day.year in self.loaded_years:
            kind = self.loaded.get(day)
            return kind == WORKDAY if kind else day.weekday() < 5
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.weekday() < 5 and day not in statutory_holidays(day.year)

    def add(self, start: date, days: int) -> Deadline:
        """The date `days` working days after `start` (`start` itself is not counted)."""
        step = timedelta(days=1 if days >= 0 else -1)
        day, remaining, provisional = start, abs(days), False
        while remaining:
            day += step
            provisional = provisional or not self.is_official(day.year)
            if self.is_working_day(day):
                remaining -= 1
        return Deadline(day, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def add_working_days(start: date, days: int) -> date:
    """On the library's calendar alone (what needs no database, e.g. seat hours' defaults)."""
    return WorkCalendar().add(start, days).day


def is_working_day(day: date) -> bool:
    return WorkCalendar().is_working_day(day)


def parse_schedule(lines: Iterable[str]) -> dict[date, str]:
    """Lines of `2027-01-01 holiday` or `2027-02-07 workday` (blank lines and # comments
    skipped); the first bad line raises InvalidCalendar with its number."""
    schedule: dict[date, str] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip().lstrip("\ufeff")
        if not text:
            continue
        parts = text.replace(",", " ").replace("\t", " ").split()
        if len(parts) != 2 or parts[1].lower() not in (HOLIDAY, WORKDAY):
            raise InvalidCalendar(f"line {number}: expected 'YYYY-MM-DD holiday' or "
                                  f"'YYYY-MM-DD workday', got {text[:60]!r}")
        try:
            day = date.fromisoformat(parts[0])
        except ValueError:
            raise InvalidCalendar(f"line {number}: {parts[0][:30]!r} is not a date like "
                                  "2027-01-01") from None
        if day in schedule and schedule[day] != parts[1].lower():
            raise InvalidCalendar(f"line {number}: {day} is listed as both holiday and workday")
        schedule[day] = parts[1].lower()
    if not schedule:
        raise InvalidCalendar("the file lists no dates")
    return schedule


def read_schedule(path: Path) -> dict[date, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidCalendar(f"{path} is not UTF-8 text") from None
    return parse_schedule(text.splitlines())


def days_of(schedule: dict[date, str]) -> Iterator[dict[str, str]]:
    loaded_at = clock.timestamp()
    for day, kind in sorted(schedule.items()):
        yield {"day": day.isoformat(), "kind": kind, "loaded_at": loaded_at}
