from datetime import date

import pytest

from kb.gaps import PLATFORM_DEPARTMENT, GapLog
from kb.workdays import add_working_days


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 27), 5, date(2026, 12, 4)),  # Friday → next Friday
        # National Day 2026: Oct 1-7 off, Saturday Oct 10 is a 调休 working day.
        (date(2026, 9, 30), 5, date(2026, 10, 13)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        (date(2026, 12, 4), -5, date(2026, 11, 27)),
    ],
)
def test_add_working_days(start, days, expected) -> None:
    assert add_working_days(start, days) == expected


def test_miss_becomes_task_for_the_department(memory_kb) -> None:
    gaps = GapLog(memory_kb)
    task = gaps.record_miss("居住证签注我手机13912345678收不到验证码", "fallback", item_no=3,
                            conversation_id="c1", today=date(2026, 11, 27))
    assert task.department == "市公安局"
    assert task.due_on == "2026-12-04"
    assert "13912345678" not in task.question
    assert gaps.open_tasks()[0]["question"] == task.question


def test_miss_without_service_goes_to_platform_team(memory_kb) -> None:
    task = GapLog(memory_kb).record_miss("护照怎么办", "fallback", today=date(2026, 11, 27))
    assert task.department == PLATFORM_DEPARTMENT
