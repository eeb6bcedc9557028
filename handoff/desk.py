"""The help desk: relays bot turns, escalates to the department responsible, assigns chats to
the least-loaded online seat, carries messages between customer and seat, and ends chats.

Transport-free apart from `emit`: the namespaces parse events and call these methods; every
state change goes to the database first, then out to the rooms (one per conversation on the
customer side, one per seat and per department on the seat side), which python-socketio's
manager, Redis included, delivers from whichever process.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from handoff.attachments import Attachment
from handoff.bot import BotClient, BotUnavailable, payload_of
from handoff.hours import SeatHours
from handoff.protocol import (
    BOT_UTTERED,
    CHAT_ASSIGNED,
    CHAT_ENDED,
    CHAT_QUEUED,
    CUSTOMER_ECHO,
    CUSTOMER_MESSAGE,
    FORBIDDEN_ATTEMPT,
    INTERNAL_NOTE,
    QUEUE_STATUS,
    QUEUES,
    SEAT_LOADS,
    SEAT_NAMESPACE,
    SLA_BREACH,
    SLA_WARNING,
    TRANSFER_FLAG,
    TYPING,
    Outcome,
    ProtocolError,
)
from handoff.rooms import (
    SUPERVISORS,
    conversation_room,
    customer_event,
    department_room,
    forbidden_phrase,
    seat_room,
)
from handoff.staff import Staff, StaffDirectory
from handoff.store import BOT, HUMAN, QUEUED, ConversationStore, Message
from kb import clock
from kb.gaps import PLATFORM_DEPARTMENT, GapLog
from kb.ratings import Ratings
from kb.store import Entry, KnowledgeBase
from nlu.privacy import mask_personal_data

log = logging.getLogger(__name__)

Emit = Callable[..., Awaitable[None]]  # AsyncServer.emit
SECONDS_PER_CHAT = 120  # a seat's typical time per chat, for the expected wait
MAX_TRANSFERS = 2  # more is passing the buck (推诿扯皮): supervisors are told
AFTER_HOURS = ("现在是非工作时间（人工帮办服务时间为工作日 {hours}），您的留言已记录，"
               "业务部门将在 {opening} 开始上班后尽快答复您。")
NO_ATTACHMENTS_FOR_BOT = "小申暂时看不懂图片和语音，请用文字描述您的问题，或发送“转人工”。"
RATING_PROMPT = "本次人工服务已结束，请您对本次服务进行评价（1-5分，5分为非常满意）。"
BOT_DOWN = "抱歉，小申暂时无法回复，请稍后再试，或发送“转人工”。"


@dataclass(frozen=True)
class ServiceLevels:
    hours: SeatHours  # when seats answer; outside, people leave a message
    warn: float = 45.0  # seconds without a first reply before the console warns
    breach: float = 60.0  # ... and before a breach is recorded
    seat_grace: float = 60.0  # seconds a seat may be disconnected before re-queueing


class HelpDesk:
    def __init__(self, kb: KnowledgeBase, bot: BotClient, emit: Emit,
                 start_task: Callable[..., Any], levels: ServiceLevels) -> None:
        self.kb = kb
        self.bot = bot
        self.emit = emit
        self.start_task = start_task  # AsyncServer.start_background_task
        self.levels = levels
        self.gaps = GapLog(kb)
        self.store = ConversationStore(kb)
        self.staff = StaffDirectory(kb)
        self.ratings = Ratings(kb)

    # -- customers ------------------------------------------------------------------------

    async def from_customer(self, conversation_id: str, text: str,
                            title: str | None = None) -> None:
        conversation = self.store.get(conversation_id)
        message = self.store.add(conversation_id, "customer", text,
                                 extra={"title": title} if title else None)
        await self.emit(CUSTOMER_ECHO, customer_event(message),
                        room=conversation_room(conversation_id))
        if conversation["mode"] == BOT:
            await self._bot_turn(conversation_id, text)
            return
        # A human has it, or will: the bot stays silent; Rasa's history still gets the text.
        await self.bot.record(conversation_id, "customer", text)
        if conversation["mode"] == HUMAN and conversation["seat"]:
            await self.emit(CUSTOMER_MESSAGE, message.as_event(),
                            room=seat_room(conversation["seat"]), namespace=SEAT_NAMESPACE)

    async def customer_attachment(self, conversation_id: str, attachment: Attachment) -> str:
        """An image or voice message from the customer: the bot cannot read it, a seat can.
        Returns when it was stored."""
        conversation = self.store.get(conversation_id)
        message = self.store.add(conversation_id, "customer", attachment.url, attachment.kind)
        await self.emit(CUSTOMER_ECHO, customer_event(message),
                        room=conversation_room(conversation_id))
        if conversation["mode"] == HUMAN and conversation["seat"]:
            await self.emit(CUSTOMER_MESSAGE, message.as_event(),
                            room=seat_room(conversation["seat"]), namespace=SEAT_NAMESPACE)
        elif conversation["mode"] == BOT:
            await self._say(conversation_id, "system", NO_ATTACHMENTS_FOR_BOT)
        return message.created_at

    async def seat_attachment(self, seat: Staff, conversation_id: str,
                              attachment: Attachment) -> Message:
        self._own(seat, conversation_id)
        message = await self._say(conversation_id, "seat", attachment.url, author=seat.name,
                                  kind=attachment.kind)
        self.store.first_reply(conversation_id)
        return message

    async def customer_typing(self, conversation_id: str) -> None:
        conversation = self.store.get(conversation_id)
        if conversation["mode"] == HUMAN and conversation["seat"]:
            await self.emit(TYPING, {"conversation_id": conversation_id, "who": "customer"},
                            room=seat_room(conversation["seat"]), namespace=SEAT_NAMESPACE)

    async def seat_typing(self, seat: Staff, conversation_id: str) -> None:
        self._own(seat, conversation_id)
        await self.emit(TYPING, {"who": "seat"}, room=conversation_room(conversation_id))

    async def _bot_turn(self, conversation_id: str, text: str) -> None:
        await self.emit(TYPING, {"who": "bot"}, room=conversation_room(conversation_id))
        try:
            replies = await self.bot.send(conversation_id, text)
        except BotUnavailable as error:
            log.warning("%s", error)
            await self._say(conversation_id, "system", BOT_DOWN)
            return
        payload = payload_of(replies)
        for reply in replies:
            if reply.get("text"):
                extra = {"buttons": reply.get("buttons") or [],
                         "outcome": payload.outcome.value if payload else None,
                         # the bot's best entries, which the seat sees in the history
                         "candidates": payload.candidates[:3] if payload else []}
                await self._say(conversation_id, "bot", reply["text"], extra=extra)
        if payload and payload.outcome == Outcome.HANDOFF:
            await self.escalate(conversation_id, payload.item_no)

    async def _say(self, conversation_id: str, sender: str, text: str, author: str = "",
                   kind: str = "text", extra: dict[str, Any] | None = None) -> Message:
        message = self.store.add(conversation_id, sender, text, kind, author, extra)
        await self.emit(BOT_UTTERED, customer_event(message),
                        room=conversation_room(conversation_id))
        return message

    async def escalate(self, conversation_id: str, item_no: int | None) -> None:
        """Queue the conversation for the department responsible for its service; outside
        seat hours the person leaves a message (留言), which also becomes a gap task."""
        item = self.kb.item(item_no) if item_no is not None else None
        department = item.department if item else PLATFORM_DEPARTMENT
        now = clock.now()
        if not self.levels.hours.open_at(now):
            self.store.escalate(conversation_id, department, item_no, after_hours=True)
            opening = self.levels.hours.next_opening(now)
            asked = [m.body for m in self.store.messages(conversation_id)
                     if m.sender == "customer" and not m.body.startswith("/")]
            self.gaps.record_miss(" / ".join(asked[-3:]) or "（转人工留言）", "after_hours",
                                  item_no, conversation_id, department=department)
            await self._say(conversation_id, "system", AFTER_HOURS.format(
                hours=self.levels.hours, opening=f"{opening:%m月%d日 %H:%M}"))
            await self.emit(CHAT_QUEUED, self.store.get(conversation_id),
                            room=department_room(department), namespace=SEAT_NAMESPACE)
            return
        self.store.escalate(conversation_id, department, item_no)
        self.start_task(self.watch_first_reply, conversation_id)
        if await self.assign(conversation_id) is None:
            await self.emit(CHAT_QUEUED, self.store.get(conversation_id),
                            room=department_room(department), namespace=SEAT_NAMESPACE)
        await self.announce_queue(department)

    async def watch_first_reply(self, conversation_id: str) -> None:
        """The 1-minute service level: warn at 45 s, record a breach at 60 s."""
        escalated = self.store.get(conversation_id)["escalated_at"]
        for delay, column, event in ((self.levels.warn, "warned_at", SLA_WARNING),
                                     (self.levels.breach - self.levels.warn, "breached_at",
                                      SLA_BREACH)):
            await asyncio.sleep(delay)
            conversation = self.store.get(conversation_id)
            if conversation["escalated_at"] != escalated or conversation["first_reply_at"]:
                return  # answered, or a later escalation has its own clock
            if conversation["mode"] not in (QUEUED, HUMAN):
                return
            self.store.mark(conversation_id, column)
            notice = self.store.get(conversation_id)
            rooms = [SUPERVISORS]
            if event == SLA_WARNING:
                rooms.append(department_room(notice["department"]))
            for room in rooms:
                await self.emit(event, notice, room=room, namespace=SEAT_NAMESPACE)

    async def announce_queue(self, department: str) -> None:
        """Tell each waiting customer their place and the expected wait; tell supervisors."""
        waiting = self.store.queue(department)
        seats = max(1, len(self.online_seats(department)))
        for position, conversation in enumerate(waiting, start=1):
            await self.emit(QUEUE_STATUS, {
                "position": position, "department": department,
                "expected_wait_seconds": position * SECONDS_PER_CHAT // seats},
                room=conversation_room(conversation["id"]))
        await self.emit(QUEUES, {department: waiting}, room=department_room(department),
                        namespace=SEAT_NAMESPACE)
        await self.emit(QUEUES, self.queues(), room=SUPERVISORS, namespace=SEAT_NAMESPACE)
        await self.emit(SEAT_LOADS, self.seat_loads(), room=SUPERVISORS,
                        namespace=SEAT_NAMESPACE)

    async def rate(self, conversation_id: str, level: int, comment: str = "") -> None:
        conversation = self.store.get(conversation_id)
        self.ratings.record(conversation_id, level, conversation["item_no"],
                            seat=conversation["seat"], comment=comment)

    # -- seats ----------------------------------------------------------------------------

    def online_seats(self, department: str) -> list[Staff]:
        online = {row["user"] for row in self.kb.db["presence"].rows_where("status = 'online'")}
        return [seat for seat in self.staff.seats(department) if seat.name in online]

    def set_presence(self, seat: Staff, status: str) -> None:
        self.kb.db["presence"].upsert({"user": seat.name, "status": status,
                                       "updated_at": clock.timestamp()}, pk="user")

    async def requeue_if_gone(self, seat: Staff) -> None:
        """After the grace period, give a still-disconnected seat's chats to others."""
        await asyncio.sleep(self.levels.seat_grace)
        presence = self.kb.db["presence"].get(seat.name)
        if presence["status"] != "offline":
            return  # back (or away on purpose): its chats stay
        for conversation_id in self.store.requeue(seat.name):
            await self._say(conversation_id, "system", "坐席连接中断，正在为您重新转接人工帮办。")
            if await self.assign(conversation_id) is None:
                await self.emit(CHAT_QUEUED, self.store.get(conversation_id),
                                room=department_room(seat.department), namespace=SEAT_NAMESPACE)
        await self.announce_queue(seat.department)

    async def assign(self, conversation_id: str) -> str | None:
        """Give the conversation to the least-loaded online seat of its department."""
        conversation = self.store.get(conversation_id)
        seats = sorted(self.online_seats(conversation["department"]),
                       key=lambda seat: self.store.load(seat.name))
        for seat in seats:
            if self.store.load(seat.name) < seat.capacity and self.store.claim(conversation_id,
                                                                                 seat.name):
                await self._assigned(conversation_id, seat.name)
                return seat.name
        return None

    async def fill(self, seat: Staff) -> None:
        """Hand a seat waiting chats of its department while it has room."""
        for conversation in self.store.queue(seat.department):
            if self.store.load(seat.name) >= seat.capacity:
                break
            if self.store.claim(conversation["id"], seat.name):
                await self._assigned(conversation["id"], seat.name)
        await self.announce_queue(seat.department)

    async def accept(self, seat: Staff, conversation_id: str) -> None:
        """A seat picks a waiting chat from the queue."""
        conversation = self.store.get(conversation_id)
        if conversation["mode"] != QUEUED or conversation["department"] != seat.department:
            raise ProtocolError("该会话已被接入或不在本部门队列中")
        if not self.store.claim(conversation_id, seat.name):
            raise ProtocolError("该会话已被其他坐席接入")
        await self._assigned(conversation_id, seat.name)
        await self.announce_queue(seat.department)

    async def transfer(self, seat: Staff, conversation_id: str, note: str,
                       department: str | None = None, to_seat: str | None = None) -> None:
        """Hand a chat on to another department's queue, or straight to a named seat, with
        a note for whoever takes it; more than two transfers are flagged (推诿扯皮)."""
        self._own(seat, conversation_id)
        target = self.staff.find(to_seat) if to_seat else None
        if to_seat and (target is None or target.role != "agent"):
            raise ProtocolError("没有这个坐席")
        destination = target.department if target else (department or "").strip()
        if destination not in self.departments():
            raise ProtocolError("请选择转接的部门或坐席")
        await self.note(seat, conversation_id, f"转接说明：{note}")
        count = self.store.transfer(conversation_id, destination)
        await self._say(conversation_id, "system",
                        f"正在为您转接至{destination}的人工帮办，请稍候。")
        if count > MAX_TRANSFERS:
            await self.emit(TRANSFER_FLAG, self.store.get(conversation_id), room=SUPERVISORS,
                            namespace=SEAT_NAMESPACE)
        if target and target.name in {s.name for s in self.online_seats(destination)} and (
                self.store.load(target.name) < target.capacity
                and self.store.claim(conversation_id, target.name)):
            await self._assigned(conversation_id, target.name)
        elif await self.assign(conversation_id) is None:
            await self.emit(CHAT_QUEUED, self.store.get(conversation_id),
                            room=department_room(destination), namespace=SEAT_NAMESPACE)
        await self.announce_queue(destination)
        await self.fill(seat)

    async def note(self, seat: Staff, conversation_id: str, text: str) -> Message:
        """An internal note on a chat: seats see it, the customer never does."""
        self._own(seat, conversation_id)
        message = self.store.add(conversation_id, "note", text, author=seat.name)
        await self.emit(INTERNAL_NOTE, message.as_event(), room=seat_room(seat.name),
                        namespace=SEAT_NAMESPACE)
        return message

    def save_candidate(self, seat: Staff, conversation_id: str, question: str,
                       answer: str) -> str:
        """A seat's good answer as a draft entry, for maintainers to review and publish."""
        conversation = self.store.get(conversation_id)
        if conversation["seat"] != seat.name:
            raise ProtocolError("只能保存自己接待的会话中的答复")
        item_no = conversation["item_no"] if conversation["item_no"] is not None else 0
        entry = Entry(f"seat-{uuid.uuid4().hex[:10]}", item_no, mask_personal_data(question),
                      mask_personal_data(answer), status="draft",
                      source=f"线上人工帮办 {seat.name} {clock.today().isoformat()}")
        self.kb.upsert_entries([entry], updated_by=seat.name)
        return entry.entry_id

    def departments(self) -> list[str]:
        """Every department a chat can go to: those of the services, and the platform's."""
        found = {item.department for item in self.kb.items().values()}
        return sorted(found | {PLATFORM_DEPARTMENT})

    def seat_loads(self) -> list[dict[str, Any]]:
        """Every seat's presence, load and capacity (what supervisors watch)."""
        presence = {row["user"]: row["status"] for row in self.kb.db["presence"].rows}
        seats = self.kb.db["users"].rows_where("role = 'agent'", order_by="department, name")
        return [{"name": row["name"], "department": row["department"],
                 "status": presence.get(row["name"], "offline"),
                 "load": self.store.load(row["name"]), "capacity": row["capacity"]}
                for row in seats]

    async def _assigned(self, conversation_id: str, seat: str) -> None:
        history = [m.as_event() for m in self.store.messages(conversation_id, notes=True)]
        await self.emit(CHAT_ASSIGNED, {"conversation": self.store.get(conversation_id),
                                        "history": history},
                        room=seat_room(seat), namespace=SEAT_NAMESPACE)
        await self._say(conversation_id, "system", "人工帮办已接入，请问有什么可以帮您？")

    def _own(self, seat: Staff, conversation_id: str) -> dict[str, Any]:
        conversation = self.store.get(conversation_id)
        if conversation["mode"] != HUMAN or conversation["seat"] != seat.name:
            raise ProtocolError("这不是您正在接待的会话")
        return conversation

    async def from_seat(self, seat: Staff, conversation_id: str, text: str) -> Message:
        self._own(seat, conversation_id)
        phrase = forbidden_phrase(text)
        if phrase:
            attempt = {"seat": seat.name, "conversation_id": conversation_id, "phrase": phrase,
                       "text": mask_personal_data(text)[:500], "created_at": clock.timestamp()}
            self.kb.db["forbidden_attempts"].insert(attempt)
            await self.emit(FORBIDDEN_ATTEMPT, attempt, room=SUPERVISORS,
                            namespace=SEAT_NAMESPACE)
            raise ProtocolError(f"回复中含有服务禁语“{phrase}”，请换一种说法后再发送")
        message = await self._say(conversation_id, "seat", text, author=seat.name)
        self.store.first_reply(conversation_id)
        await self.bot.record(conversation_id, "seat", text)
        return message

    async def end(self, seat: Staff, conversation_id: str, resolved: bool) -> None:
        """The seat ends the chat: back to the bot, and the customer is asked for a rating."""
        self._own(seat, conversation_id)
        self.store.end(conversation_id, "resolved" if resolved else "unresolved")
        await self._say(conversation_id, "system", RATING_PROMPT)
        await self.emit(CHAT_ENDED, {"conversation_id": conversation_id},
                        room=conversation_room(conversation_id))
        await self.fill(seat)

    def queues(self) -> dict[str, list[dict[str, Any]]]:
        """Waiting chats per department (what supervisors watch)."""
        by_department: dict[str, list[dict[str, Any]]] = {}
        for conversation in self.store.queue():
            by_department.setdefault(conversation["department"], []).append(conversation)
        return by_department
