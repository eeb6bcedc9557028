from datetime import datetime

import pytest

from handoff.hours import SeatHours
from kb.clock import SHANGHAI

HOURS = SeatHours.parse("09:00-17:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(("moment", "open_"), [
    ("2026-12-01 10:00", True),   # a Tuesday
    ("2026-12-01 08:59", False),
    ("2026-12-01 17:00", False),
    ("2026-12-05 10:00", False),  # Saturday
    ("2026-10-01 10:00", False),  # National Day
])
def test_open_at(moment, open_) -> None:
    assert HOURS.open_at(at(moment)) is open_


@pytest.mark.parametrize(("moment", "opening"), [
    ("2026-12-01 10:00", "2026-12-01 10:00"),
    ("2026-12-01 07:30", "2026-12-01 09:00"),
    ("2026-12-04 18:00", "2026-12-07 09:00"),  # Friday evening → Monday
    ("2026-09-30 18:00", "2026-10-08 09:00"),  # over the National Day holiday
])
def test_next_opening(moment, opening) -> None:
    assert HOURS.next_opening(at(moment)) == at(opening)


def test_always() -> None:
    hours = SeatHours.parse("always")
    assert hours.open_at(at("2026-10-01 03:00")) and str(hours) == "always"


@pytest.mark.parametrize("text", ["9-17", "17:00-09:00", "25:00-26:00", ""])
def test_bad_hours(text) -> None:
    with pytest.raises(ValueError):
        SeatHours.parse(text)
