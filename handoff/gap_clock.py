"""The gap loop's share of the gateway's sweep: pending tasks past their due day marked
overdue (once, never re-dated) and told to supervisors; answered tasks whose entry went live
(through the page or an import) closed; clarifications nobody chose a service for taken as
gap questions; and waiting misses handed to the grouper."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from handoff.notify import Notifier
from handoff.protocol import GAP_OVERDUE
from kb import clock
from kb.gap_tasks import GapTasks
from kb.gaps import GapLog, Miss, MissReason
from kb.turns import TurnLog


class GapClock:
    def __init__(self, gaps: GapLog, notify: Notifier, place: Callable[[], None],
                 abandon_after: float, every: float = 15.0) -> None:
        self.gaps = gaps
        self.tasks = GapTasks(gaps.kb)
        self.turns = TurnLog(gaps.kb)
        self.notify = notify
        self.place = place  # ask the grouper to place waiting misses
        self.abandon_after = abandon_after  # seconds after which a clarification is left
        self.every = every  # the due days change once a day: no need to look every second
        self.last = float("-inf")

    async def sweep(self) -> None:
        if time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        for task in self.tasks.mark_overdue():
            await self.notify.supervisors(GAP_OVERDUE, task)
        self.tasks.close_published()
        before = (clock.now() - timedelta(seconds=self.abandon_after)).isoformat(
            timespec="seconds")
        for turn in self.turns.abandoned_clarifications(before):
            self.gaps.record(Miss(turn["text"], MissReason.CLARIFY_ABANDONED,
                                  conversation_id=turn["conversation_id"]))
            self.turns.mark_taken(turn["id"])
        if self.gaps.waiting():
            self.place()
