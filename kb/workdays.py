"""Working-day arithmetic on the official Chinese calendar (holidays and 调休 make-up days)."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        # The State Council publishes each year's calendar late in the year before.
        log.warning("no official calendar for %s yet; counting Monday-Friday", day.year)
        return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (`start` itself is not counted)."""
    step = timedelta(days=1 if days >= 0 else -1)
    day, remaining = start, abs(days)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day
