"""The help desk alone, with a fake emit and without Rasa: after-hours messages, assignment
to reachable seats only, one rating per ended chat, and the service-level sweep (warnings,
breaches and re-queueing come from the database, whichever gateway sweeps)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from handoff.attachments import AttachmentStore
from handoff.desk import HelpDesk
from handoff.hours import SeatHours
from handoff.notify import Notifier
from handoff.protocol import ProtocolError
from handoff.service_level import ServiceLevels, Sweeper
from handoff.staff import StaffDirectory
from handoff.store import BOT, HUMAN, QUEUED
from kb import clock

PASSWORD = "correct horse battery"


class ClosedHours(SeatHours):
    """Seat hours that are never open now (the clock is what cannot be chosen here)."""

    def open_at(self, moment: datetime) -> bool:
        return False


class Emitted(list):
    """A fake AsyncServer.emit: keeps (event, data, room) in order."""

    async def __call__(self, event: str, data: object, room: str = "", **_: object) -> None:
        self.append((event, data, room))

    def of(self, event: str) -> list:
        return [(data, room) for name, data, room in self if name == event]


def make_desk(kb, tmp_path, hours: SeatHours | None = None, **levels: float
              ) -> tuple[HelpDesk, Emitted]:
    emitted = Emitted()
    desk = HelpDesk(kb, bot=None, notify=Notifier(emitted, AttachmentStore(kb, tmp_path)),
                    levels=ServiceLevels(hours or SeatHours.parse("always"), **levels),
                    staff=StaffDirectory(kb))
    return desk, emitted


def queued(desk: HelpDesk, conversation_id: str, item_no: int = 6) -> None:
    desk.store.open(conversation_id)
    desk.store.add(conversation_id, "customer", "无犯罪记录证明能加急吗")
    asyncio.run(desk.escalate(conversation_id, item_no=item_no))


def sweeper_of(desk: HelpDesk) -> Sweeper:
    return Sweeper(desk.store, desk.presence, desk.notify, desk.levels, desk.requeue_seat,
                   desk.chat)


def backdate(kb, conversation_id: str, seconds: float) -> None:
    earlier = (clock.now() - timedelta(seconds=seconds)).isoformat(timespec="seconds")
    kb.db["conversations"].update(conversation_id, {"escalated_at": earlier})


def test_after_hours_a_request_becomes_a_message_and_a_gap_task(memory_kb, tmp_path) -> None:
    desk, emitted = make_desk(memory_kb, tmp_path, ClosedHours.parse("09:00-17:00"))
    queued(desk, "c" * 32)
    conversation = desk.store.get("c" * 32)
    assert (conversation["mode"], conversation["after_hours"]) == (QUEUED, 1)
    plain = [data for data, room in emitted.of("bot_uttered") if not room.endswith(":full")]
    assert len(plain) == 1 and set(plain[0]) == {"text"}  # Rasa's own shape
    assert "非工作时间" in plain[0]["text"] and "09:00" in plain[0]["text"]
    # It waits for the action server's grouper, which holds the embedder.
    [question] = memory_kb.db["gap_questions"].rows
    assert (question["reason"], question["department"], question["text"], question["task_id"]
            ) == ("after_hours", "市公安局", "无犯罪记录证明能加急吗", None)


def test_only_a_reachable_seat_gets_a_chat(memory_kb, tmp_path) -> None:
    desk, emitted = make_desk(memory_kb, tmp_path)
    desk.staff.add("wang", "agent", PASSWORD, "市公安局")
    desk.staff.add("li", "agent", PASSWORD, "市公安局")
    desk.presence.connected("wang")
    desk.presence.disconnected("wang")  # its gateway saw it leave
    desk.presence.connected("li")
    desk.set_presence(desk.staff.find("li"), "away")
    queued(desk, "a" * 32)
    assert desk.store.get("a" * 32)["mode"] == QUEUED  # nobody reachable
    desk.set_presence(desk.staff.find("li"), "online")
    asyncio.run(desk.fill(desk.staff.find("li")))
    conversation = desk.store.get("a" * 32)
    assert (conversation["mode"], conversation["seat"]) == (HUMAN, "li")
    [(assigned, room)] = emitted.of("chat_assigned")
    assert room == "seat:li" and assigned["conversation"]["service"]
    assert assigned["conversation"]["sla_deadline"] > conversation["escalated_at"]
    assert [c["conversation"]["id"] for c in desk.held(desk.staff.find("li"))] == ["a" * 32]


def test_one_rating_per_ended_human_chat(memory_kb, tmp_path) -> None:
    desk, _ = make_desk(memory_kb, tmp_path)
    seat = desk.staff.add("zhao", "agent", PASSWORD, "市公安局")
    desk.presence.connected("zhao")
    desk.store.open("b" * 32)
    with pytest.raises(ProtocolError):  # never had a human
        asyncio.run(desk.rate("b" * 32, 5))
    queued(desk, "b" * 32)
    with pytest.raises(ProtocolError):  # not ended yet
        asyncio.run(desk.rate("b" * 32, 5))
    asyncio.run(desk.end(seat, "b" * 32, resolved=True))
    assert desk.store.get("b" * 32)["mode"] == BOT
    asyncio.run(desk.rate("b" * 32, 4))
    for _ in range(3):
        with pytest.raises(ProtocolError):
            asyncio.run(desk.rate("b" * 32, 1))
    assert [r["level"] for r in desk.ratings.of_conversation("b" * 32)] == [4]


def test_the_sweep_records_warnings_and_breaches_once(memory_kb, tmp_path) -> None:
    desk, emitted = make_desk(memory_kb, tmp_path, warn=45, breach=60)
    queued(desk, "d" * 32)
    sweeper = sweeper_of(desk)
    asyncio.run(sweeper.sweep())
    assert not emitted.of("sla_warning")  # just escalated
    backdate(memory_kb, "d" * 32, 50)
    asyncio.run(sweeper.sweep())
    asyncio.run(sweeper.sweep())
    assert [room for _, room in emitted.of("sla_warning")] == ["supervisors",
                                                               "department:市公安局"]
    backdate(memory_kb, "d" * 32, 61)
    asyncio.run(sweeper.sweep())
    asyncio.run(sweeper.sweep())
    assert [room for _, room in emitted.of("sla_breach")] == ["supervisors"]
    assert desk.store.get("d" * 32)["breached_at"]


def test_only_one_gateway_sweeps_at_a_time(memory_kb, tmp_path) -> None:
    desk, _ = make_desk(memory_kb, tmp_path)
    first, second = (Sweeper(desk.store, desk.presence, desk.notify, desk.levels,
                             desk.requeue_seat, desk.chat) for _ in range(2))
    assert first.lease.acquire() and first.lease.acquire()  # renewing its own
    assert not second.lease.acquire()
    first.stop()  # a gateway stopping cleanly hands it over at once
    assert second.lease.acquire()


def test_the_sweep_requeues_the_chats_of_a_seat_gone_past_its_grace(memory_kb,
                                                                    tmp_path) -> None:
    desk, emitted = make_desk(memory_kb, tmp_path, seat_grace=60)
    desk.staff.add("qian", "agent", PASSWORD, "市公安局")
    desk.presence.connected("qian")
    queued(desk, "e" * 32)
    assert desk.store.get("e" * 32)["seat"] == "qian"
    # Its gateway died: no disconnect was ever seen, the heartbeats just stopped.
    long_ago = (clock.now() - timedelta(seconds=120)).isoformat(timespec="seconds")
    memory_kb.db["presence"].update("qian", {"seen_at": long_ago})
    sweeper = sweeper_of(desk)
    asyncio.run(sweeper.sweep())
    conversation = desk.store.get("e" * 32)
    assert (conversation["mode"], conversation["seat"]) == (QUEUED, None)
    assert any("重新转接" in data["text"] for data, _ in emitted.of("bot_uttered"))
    assert desk.seat_loads()[0]["status"] == "offline"
