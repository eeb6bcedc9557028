"""The 1-minute service level and the seats' grace, kept by a periodic sweep over the
database instead of timers in the process that escalated: a restarted gateway, or a second
one, loses no clock. Exactly one gateway sweeps at a time (a lease in the database).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handoff.gap_clock import GapClock
from handoff.hours import SeatHours
from handoff.lease import Lease
from handoff.notify import Notifier
from handoff.presence import Presence
from handoff.protocol import SLA_BREACH, SLA_WARNING
from handoff.store import ConversationStore
from kb import clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceLevels:
    hours: SeatHours  # when seats answer; outside, people leave a message
    warn: float = 45.0  # seconds without a first reply before the console warns
    breach: float = 60.0  # ... and before a breach is recorded
    seat_grace: float = 60.0  # seconds a seat may be without a connection before re-queueing
    heartbeat: float = 5.0  # seconds between a gateway's presence heartbeats
    sweep_interval: float = 1.0  # seconds between sweeps

    def deadline(self, conversation: dict[str, Any]) -> str | None:
        """When the first reply is due (the breach), while none was given."""
        if not conversation.get("escalated_at") or conversation.get("first_reply_at") or (
                conversation.get("after_hours")):
            return None
        escalated = datetime.fromisoformat(conversation["escalated_at"])
        return (escalated + timedelta(seconds=self.breach)).isoformat(timespec="seconds")


class Sweeper:
    """Records warnings and breaches, and re-queues the chats of seats that are gone."""

    def __init__(self, store: ConversationStore, presence: Presence, notify: Notifier,
                 levels: ServiceLevels, requeue: Callable[[str], Awaitable[None]],
                 shown: Callable[[str], dict[str, Any]], gaps: GapClock | None = None) -> None:
        self.store = store
        self.gaps = gaps  # the gap tasks' deadlines ride on the same lease
        self.shown = shown  # a conversation as the console lists it (the desk's chat())
        self.presence = presence
        self.notify = notify
        self.levels = levels
        self.requeue = requeue  # re-queue one seat's chats (the desk does the telling)
        self.lease = Lease(store.kb, "service-level-sweep", uuid.uuid4().hex,
                           max(5.0, 5 * levels.sweep_interval))

    async def run(self) -> None:
        while True:
            try:
                if self.lease.acquire():
                    await self.sweep()
            except Exception:  # a bad round must not end the clock for good
                log.exception("service-level sweep failed")
            await asyncio.sleep(self.levels.sweep_interval)

    async def sweep(self) -> None:
        now = clock.now()
        for seconds, column, event in ((self.levels.warn, "warned_at", SLA_WARNING),
                                       (self.levels.breach, "breached_at", SLA_BREACH)):
            before = (now - timedelta(seconds=seconds)).isoformat(timespec="seconds")
            for conversation in self.store.unanswered(before, column):
                if self.store.mark(conversation["id"], column):
                    await self._tell(event, self.shown(conversation["id"]))
        for seat in self.presence.gone(self.levels.seat_grace):
            if self.store.load(seat):
                await self.requeue(seat)
        if self.gaps:
            await self.gaps.sweep()

    async def _tell(self, event: str, conversation: dict[str, Any]) -> None:
        await self.notify.supervisors(event, conversation)
        if event == SLA_WARNING:
            # the department's room holds the seat that has the chat, if one has
            await self.notify.department(conversation["department"], event, conversation)

    def stop(self) -> None:
        self.lease.release()
