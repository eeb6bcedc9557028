"""The help desk alone, outside seat hours: the person leaves a message (留言), is told when
to expect an answer, and the message becomes a gap task of the department."""

import asyncio
from datetime import datetime

from handoff.desk import HelpDesk, ServiceLevels
from handoff.hours import SeatHours
from handoff.store import QUEUED


class ClosedHours(SeatHours):
    """Seat hours that are never open now (the clock is what cannot be chosen here)."""

    def open_at(self, moment: datetime) -> bool:
        return False


def test_after_hours_a_request_becomes_a_message_and_a_gap_task(memory_kb) -> None:
    events: list[tuple[str, dict]] = []

    async def emit(event: str, data: dict, **_: object) -> None:
        events.append((event, data))

    hours = ClosedHours.parse("09:00-17:00")
    desk = HelpDesk(memory_kb, bot=None, emit=emit, start_task=lambda *a: None,
                    levels=ServiceLevels(hours))
    desk.store.open("c" * 32)
    desk.store.add("c" * 32, "customer", "无犯罪记录证明能加急吗")
    asyncio.run(desk.escalate("c" * 32, item_no=6))
    conversation = desk.store.get("c" * 32)
    assert (conversation["mode"], conversation["after_hours"]) == (QUEUED, 1)
    [notice] = [data for event, data in events if event == "bot_uttered"]
    assert "非工作时间" in notice["text"] and "09:00" in notice["text"]
    [task] = desk.gaps.open_tasks()
    assert (task["reason"], task["department"], task["question"]) == (
        "after_hours", "市公安局", "无犯罪记录证明能加急吗")
