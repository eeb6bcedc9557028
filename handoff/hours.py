"""Seat hours: when human seats answer (working days on the official calendar, within set
times, Asia/Shanghai). Outside them a person leaves a message (留言) instead of waiting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from kb.clock import SHANGHAI
from kb.workdays import is_working_day

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


ALWAYS = "always"


@dataclass(frozen=True)
class SeatHours:
    opens: time
    closes: time
    always: bool = False  # seats around the clock, every day (a 7×24 centre, or tests)

    @classmethod
    def parse(cls, text: str) -> SeatHours:
        """"09:00-17:00" (working days) or "always" → SeatHours; ValueError otherwise."""
        if text.strip() == ALWAYS:
            return cls(time(0), time.max, always=True)
        match = _RANGE.match(text)
        if not match:
            raise ValueError("must look like 09:00-17:00")
        h1, m1, h2, m2 = map(int, match.groups())
        if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
            raise ValueError("must be two times of day, the first before the second")
        return cls(time(h1, m1), time(h2, m2))

    def __str__(self) -> str:
        return ALWAYS if self.always else f"{self.opens:%H:%M}-{self.closes:%H:%M}"

    def open_at(self, moment: datetime) -> bool:
        if self.always:
            return True
        local = moment.astimezone(SHANGHAI)
        return is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """When seats next answer, from `moment` (itself if they do now)."""
        local = moment.astimezone(SHANGHAI)
        if self.open_at(local):
            return local
        day = local.date()
        if is_working_day(day) and local.time() < self.opens:
            return datetime.combine(day, self.opens, SHANGHAI)
        day += timedelta(days=1)
        while not is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, SHANGHAI)
