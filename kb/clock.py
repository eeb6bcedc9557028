"""Time as the district counts it: days, deadlines and reports are in Asia/Shanghai, and every
stored timestamp carries its offset."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(SHANGHAI)


def timestamp() -> str:
    """Now as ISO 8601 with its offset, e.g. 2026-12-01T20:15:03+08:00."""
    return now().isoformat(timespec="seconds")


def today() -> date:
    return now().date()
