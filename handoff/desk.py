"""The help desk: relays bot turns, escalates to the department responsible, carries
messages between customer and seat, and ends chats.

Transport-free: the namespaces parse events and call these methods; every state change goes
to the database first, then out through the notifier to the rooms, which python-socketio's
manager, Redis included, delivers from whichever process. Who gets a chat is
handoff/assignment.py; the service-level clock is handoff/service_level.py.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from handoff.assignment import Assignment
from handoff.attachments import Attachment
from handoff.backlog import Backlog
from handoff.bot import BotClient
from handoff.forbidden import forbidden_phrase
from handoff.notify import Notifier
from handoff.presence import Presence
from handoff.protocol import (
    CHAT_ASSIGNED,
    CHAT_ENDED,
    CHAT_QUEUED,
    CUSTOMER_MESSAGE,
    FORBIDDEN_ATTEMPT,
    INTERNAL_NOTE,
    QUEUE_STATUS,
    QUEUES,
    SEAT_LOADS,
    TRANSFER_FLAG,
    TYPING,
    ProtocolError,
)
from handoff.relay import BotRelay
from handoff.service_level import ServiceLevels
from handoff.staff import Role, Staff, StaffDirectory
from handoff.store import BOT, HUMAN, QUEUED, ConversationStore, Message
from kb import clock
from kb.gaps import PLATFORM_DEPARTMENT, GapLog, Miss, MissReason
from kb.ratings import LOW_RATING, Ratings
from kb.store import Entry, KnowledgeBase
from kb.turns import TurnLog
from kb.versions import EntryVersions, Source
from nlu.noise import why_not_a_question
from nlu.privacy import mask_personal_data

log = logging.getLogger(__name__)

SECONDS_PER_CHAT = 120  # a seat's typical time per chat, for the expected wait
MAX_TRANSFERS = 2  # more is passing the buck (推诿扯皮): supervisors are told
ANNOUNCE_DELAY = 0.2  # seconds over which queue changes are told to watchers at once
AFTER_HOURS = ("现在是非工作时间（人工帮办服务时间为工作日 {hours}），您的留言已记录，"
               "业务部门将在 {opening} 开始上班后尽快答复您。")
NO_ATTACHMENTS_FOR_BOT = "小申暂时看不懂图片和语音，请用文字描述您的问题，或发送“转人工”。"
RATING_PROMPT = "本次人工服务已结束，请您对本次服务进行评价（1-5分，5分为非常满意）。"
HANDING_OVER = "正在为您转接至{department}的人工帮办，请稍候。"
SEAT_JOINED = "人工帮办已接入，请问有什么可以帮您？"
SEAT_LOST = "坐席连接中断，正在为您重新转接人工帮办。"


class HelpDesk:
    def __init__(self, kb: KnowledgeBase, bot: BotClient, notify: Notifier,
                 levels: ServiceLevels, staff: StaffDirectory) -> None:
        self.kb = kb
        self.bot = bot
        self.notify = notify
        self.levels = levels
        self.staff = staff
        # Misses wait in the database for the action server's grouper; tell it at once.
        self.gaps = GapLog(kb, bot.place_gaps if bot else None)
        self.store = ConversationStore(kb)
        self.presence = Presence(kb, liveness=3 * levels.heartbeat)
        self.assignment = Assignment(self.store, staff, self.presence)
        self.ratings = Ratings(kb)
        self.turns = TurnLog(kb)
        # Bot turns, kept in the database while the bot cannot answer (its loop is started
        # by the app: relay.run)
        self.relay = BotRelay(bot, Backlog(self.store), notify, self._say, self.escalate,
                              self._to_human)
        self.announcing: set[str] = set()  # departments whose queue will be told shortly
        self.background: set[asyncio.Task] = set()

    # -- customers ------------------------------------------------------------------------

    async def from_customer(self, conversation_id: str, text: str,
                            title: str | None = None, key: str | None = None) -> None:
        conversation = self.store.get(conversation_id)
        title = title or self._reply_title(conversation_id, text)
        extra = {name: value for name, value in (("title", title), ("key", key)) if value}
        bot_mode = conversation["mode"] == BOT
        with self.kb.write():  # one writer at a time: a re-sent key is found, never stored twice
            sent = self.store.sent(conversation_id, key) if key else None
            message = sent or (
                self.relay.backlog.keep(conversation_id, text, extra) if bot_mode
                else self.store.add(conversation_id, "customer", text, extra=extra))
        await self.notify.echo(message)
        if sent is not None:  # the page re-sent it after a dropped connection: handled once
            return
        if bot_mode:
            await self.relay.answer(message)
            return
        # A human has it, or will: the bot stays silent; Rasa's history still gets the text.
        await self.bot.record(conversation_id, "customer", text)
        await self._to_seat(conversation, message)

    def _reply_title(self, conversation_id: str, text: str) -> str | None:
        """The title of the quick reply whose payload this is (Rasa clients send only the
        payload, e.g. /feedback_unresolved), so seats and reports read 没解决."""
        if not text.startswith("/"):
            return None
        last = self.store.last_message(conversation_id)
        buttons = last.extra.get("buttons") or [] if last else []
        return next((b["title"] for b in buttons if b.get("payload") == text), None)

    async def _to_seat(self, conversation: dict[str, Any], message: Message) -> None:
        if conversation["mode"] == HUMAN and conversation["seat"]:
            await self.notify.seat(conversation["seat"], CUSTOMER_MESSAGE, message.as_event())

    def check_upload(self, conversation_id: str, seat: Staff | None) -> None:
        """Whether this upload may be stored at all (checked before anything is written)."""
        if seat is None:
            self.store.get(conversation_id)
        else:
            self._own(seat, conversation_id)

    async def customer_attachment(self, conversation_id: str, attachment: Attachment
                                  ) -> Message:
        """An image or voice message from the customer: the bot cannot read it, a seat can."""
        conversation = self.store.get(conversation_id)
        message = self.store.add(conversation_id, "customer", attachment.url, attachment.kind)
        await self.notify.echo(message)
        await self._to_seat(conversation, message)
        if conversation["mode"] == BOT:
            await self._say(conversation_id, "system", NO_ATTACHMENTS_FOR_BOT)
        return message

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
            await self.notify.seat(conversation["seat"], TYPING,
                                   {"conversation_id": conversation_id, "who": "customer"})

    async def seat_typing(self, seat: Staff, conversation_id: str) -> None:
        self._own(seat, conversation_id)
        await self.notify.customer_page(conversation_id, TYPING, {"who": "seat"})

    async def _to_human(self, conversation_id: str) -> None:
        """转人工 while the bot cannot answer: the desk hands over by itself, for the service
        of the conversation's last bot turn; a seat reads the messages the bot did not."""
        self.relay.backlog.drop(conversation_id)
        item_no = next((turn["item_no"] for turn in reversed(
            self.turns.of_conversation(conversation_id)) if turn["item_no"] is not None), None)
        item = self.kb.item(item_no) if item_no is not None else None
        await self._say(conversation_id, "system", HANDING_OVER.format(
            department=item.department if item else PLATFORM_DEPARTMENT))
        await self.escalate(conversation_id, item_no)

    async def _say(self, conversation_id: str, sender: str, text: str, author: str = "",
                   kind: str = "text", extra: dict[str, Any] | None = None) -> Message:
        message = self.store.add(conversation_id, sender, text, kind, author, extra)
        await self.notify.to_customer(message)
        return message

    async def escalate(self, conversation_id: str, item_no: int | None) -> None:
        """Queue the conversation for the department responsible for its service; outside
        seat hours the person leaves a message (留言), which also becomes a gap task."""
        item = self.kb.item(item_no) if item_no is not None else None
        department = item.department if item else PLATFORM_DEPARTMENT
        now = clock.now()
        if not self.levels.hours.open_at(now):
            if not self.store.escalate(conversation_id, department, item_no, after_hours=True):
                return
            self._record_miss(conversation_id, MissReason.AFTER_HOURS, item_no, department)
            opening = self.levels.hours.next_opening(now)
            await self._say(conversation_id, "system", AFTER_HOURS.format(
                hours=self.levels.hours, opening=f"{opening:%m月%d日 %H:%M}"))
            await self.notify.department(department, CHAT_QUEUED, self.chat(conversation_id))
            return
        if not self.store.escalate(conversation_id, department, item_no):
            return  # not with the bot any more (a second 转人工 in flight)
        self._record_miss(conversation_id, MissReason.ESCALATION, item_no, department)
        await self._place(conversation_id, department)

    def _record_miss(self, conversation_id: str, reason: MissReason, item_no: int | None,
                     department: str) -> None:
        """What the person asked before asking for a human is a gap question (the seat's
        answer is attached when the chat ends); it waits for the grouper."""
        asked = next((m.body for m in reversed(self.store.messages(conversation_id))
                      if m.sender == "customer" and not m.body.startswith("/")
                      and why_not_a_question(m.body) is None), None)
        if asked:
            self.gaps.record(Miss(asked, reason, item_no, department, conversation_id))

    async def _place(self, conversation_id: str, department: str) -> None:
        """Give a waiting chat to a seat, or tell the department it waits."""
        seat = self.assignment.pick(conversation_id)
        if seat:
            await self._assigned(conversation_id, seat)
        else:
            await self.notify.department(department, CHAT_QUEUED, self.chat(conversation_id))
            position = self.store.position(conversation_id)
            if position:
                await self._tell_position(conversation_id, department, position)
        self.announce_queue(department)

    async def _tell_position(self, conversation_id: str, department: str,
                             position: int) -> None:
        seats = max(1, len(self.assignment.online_seats(department)))
        await self.notify.customer_page(conversation_id, QUEUE_STATUS, {
            "position": position, "department": department,
            "expected_wait_seconds": position * SECONDS_PER_CHAT // seats})

    def announce_queue(self, department: str) -> None:
        """Soon, tell the department's waiting customers their place, and the seats and
        supervisors the queue: changes within ANNOUNCE_DELAY are told once."""
        if department in self.announcing:
            return
        self.announcing.add(department)
        task = asyncio.get_running_loop().create_task(self._announce(department))
        self.background.add(task)  # (the loop keeps only weak references to tasks)
        task.add_done_callback(self.background.discard)

    async def _announce(self, department: str) -> None:
        await asyncio.sleep(ANNOUNCE_DELAY)
        self.announcing.discard(department)
        waiting = self.store.queue(department)
        for position, conversation in enumerate(waiting, start=1):
            await self._tell_position(conversation["id"], department, position)
        await self.notify.department(department, QUEUES,
                                     {department: [self.chat(c) for c in waiting]})
        await self.notify.supervisors(QUEUES, self.queues())
        await self.notify.supervisors(SEAT_LOADS, self.seat_loads())

    async def rate(self, conversation_id: str, level: int, comment: str = "") -> None:
        """The citizen's rating of a human chat that ended: once per chat."""
        if not self.store.mark_rated(conversation_id):
            raise ProtocolError("只能对已结束的人工服务评价一次")
        conversation = self.store.get(conversation_id)
        self.ratings.record(conversation_id, level, conversation["item_no"],
                            seat=conversation["seat"], comment=comment)
        if level <= LOW_RATING:
            self._record_miss(conversation_id, MissReason.LOW_RATING, conversation["item_no"],
                              conversation["department"])

    # -- seats ----------------------------------------------------------------------------

    def chat(self, conversation: dict[str, Any] | str, seat: str | None = None
             ) -> dict[str, Any]:
        """A conversation as the console lists it: its service, last message, the
        first-reply deadline and, for the seat holding it, how many messages are unread."""
        if isinstance(conversation, str):
            conversation = self.store.get(conversation)
        item = self.kb.item(conversation["item_no"]) if conversation["item_no"] else None
        last = self.store.last_message(conversation["id"])
        shown = {**conversation, "service": item.name if item else None,
                 "sla_deadline": self.levels.deadline(conversation),
                 "last_message": {"sender": last.sender, "author": last.author,
                                  "body": last.body, "kind": last.kind,
                                  "created_at": last.created_at} if last else None}
        if seat:
            shown["unread"] = self.store.unread(seat, conversation["id"])
        return shown

    def held(self, seat: Staff) -> list[dict[str, Any]]:
        """Every chat the seat holds, with its history: what a reloaded console restores."""
        return [{"conversation": self.chat(conversation, seat.name),
                 "history": [m.as_event() for m in self.store.messages(
                     conversation["id"], notes=True)],
                 "unread": self.store.unread(seat.name, conversation["id"])}
                for conversation in self.store.held_by(seat.name)]

    def mark_read(self, seat: Staff, conversation_id: str, last_id: int) -> None:
        self._own(seat, conversation_id)
        self.store.mark_read(seat.name, conversation_id, last_id)

    async def seat_connected(self, seat: Staff) -> None:
        self.presence.connected(seat.name)
        await self.fill(seat)

    def set_presence(self, seat: Staff, status: str) -> None:
        self.presence.choose(seat.name, status)

    async def requeue_seat(self, name: str) -> None:
        """The seat is gone for longer than its grace: its chats go to other seats."""
        seat = self.staff.find(name)
        if seat is None:
            return
        for conversation_id in self.store.requeue(name):
            log.info("re-queued %s: seat %s gone", conversation_id, name)
            await self._say(conversation_id, "system", SEAT_LOST)
            await self._place(conversation_id, seat.department)

    async def fill(self, seat: Staff) -> None:
        """Hand a seat waiting chats of its department while it has room."""
        for conversation_id in self.assignment.fill(seat):
            await self._assigned(conversation_id, seat.name)
        self.announce_queue(seat.department)

    async def accept(self, seat: Staff, conversation_id: str) -> None:
        """A seat picks a waiting chat from the queue."""
        conversation = self.store.get(conversation_id)
        if conversation["mode"] != QUEUED or conversation["department"] != seat.department:
            raise ProtocolError("该会话已被接入或不在本部门队列中")
        if not self.store.claim(conversation_id, seat.name):
            raise ProtocolError("该会话已被其他坐席接入")
        await self._assigned(conversation_id, seat.name)
        self.announce_queue(seat.department)

    async def transfer(self, seat: Staff, conversation_id: str, note: str,
                       department: str | None = None, to_seat: str | None = None) -> None:
        """Hand a chat on to another department's queue, or straight to a named seat, with
        a note for whoever takes it; more than two transfers are flagged (推诿扯皮)."""
        self._own(seat, conversation_id)
        target = self.staff.find(to_seat) if to_seat else None
        if to_seat and (target is None or target.role != Role.AGENT):
            raise ProtocolError("没有这个坐席")
        destination = target.department if target else (department or "").strip()
        if destination not in self.departments():
            raise ProtocolError("请选择转接的部门或坐席")
        await self.note(seat, conversation_id, f"转接说明：{note}")
        count = self.store.transfer(conversation_id, seat.name, destination)
        if count is None:
            raise ProtocolError("这不是您正在接待的会话")
        await self._say(conversation_id, "system", HANDING_OVER.format(department=destination))
        if count > MAX_TRANSFERS:
            await self.notify.supervisors(TRANSFER_FLAG, self.chat(conversation_id))
        if target and self.assignment.to_seat(conversation_id, target):
            await self._assigned(conversation_id, target.name)
            self.announce_queue(destination)
        else:
            await self._place(conversation_id, destination)
        await self.fill(seat)

    async def note(self, seat: Staff, conversation_id: str, text: str) -> Message:
        """An internal note on a chat: seats see it, the customer never does."""
        self._own(seat, conversation_id)
        message = self.store.add(conversation_id, "note", text, author=seat.name)
        await self.notify.seat(seat.name, INTERNAL_NOTE, message.as_event())
        return message

    def save_candidate(self, seat: Staff, conversation_id: str, question: str,
                       answer: str) -> str:
        """A seat's good answer as a new entry in the maintainers' review queue."""
        conversation = self.store.get(conversation_id)
        if conversation["seat"] != seat.name:
            raise ProtocolError("只能保存自己接待的会话中的答复")
        item_no = conversation["item_no"] if conversation["item_no"] is not None else 0
        entry = Entry(f"seat-{uuid.uuid4().hex[:10]}", item_no, mask_personal_data(question),
                      mask_personal_data(answer), status="draft",
                      source=f"线上人工帮办 {seat.name} {clock.today().isoformat()}")
        EntryVersions(self.kb).save(entry, seat.name, 0, source=Source.SEAT_CANDIDATE,
                                    reason=f"坐席答复（会话 {conversation_id[:8]}）", submit=True)
        self.gaps.attach_seat_answer(conversation_id, seat.name, entry.answer, entry.entry_id)
        return entry.entry_id

    def departments(self) -> list[str]:
        """Every department a chat can go to: those of the services, and the platform's."""
        found = {item.department for item in self.kb.items().values()}
        return sorted(found | {PLATFORM_DEPARTMENT})

    def seat_loads(self) -> list[dict[str, Any]]:
        """Every seat's presence, load and capacity (what supervisors watch)."""
        states = self.presence.states()
        seats = self.kb.db["users"].rows_where("role = 'agent'", order_by="department, name")
        return [{"name": row["name"], "department": row["department"],
                 "status": states.get(row["name"], "offline"),
                 "load": self.store.load(row["name"]), "capacity": row["capacity"]}
                for row in seats]

    async def _assigned(self, conversation_id: str, seat: str) -> None:
        history = [m.as_event() for m in self.store.messages(conversation_id, notes=True)]
        if history:  # what came before the seat took it is context, not unread
            self.store.mark_read(seat, conversation_id, history[-1]["id"])
        await self.notify.seat(seat, CHAT_ASSIGNED, {
            "conversation": self.chat(conversation_id, seat), "history": history,
            "unread": 0})
        await self._say(conversation_id, "system", SEAT_JOINED)

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
            await self.notify.supervisors(FORBIDDEN_ATTEMPT, attempt)
            raise ProtocolError(f"回复中含有服务禁语“{phrase}”，请换一种说法后再发送")
        message = await self._say(conversation_id, "seat", text, author=seat.name)
        self.store.first_reply(conversation_id)
        await self.bot.record(conversation_id, "seat", text)
        return message

    async def end(self, seat: Staff, conversation_id: str, resolved: bool) -> None:
        """The seat ends the chat: back to the bot, and the customer is asked for a rating."""
        self._own(seat, conversation_id)
        if not self.store.end(conversation_id, seat.name,
                              "resolved" if resolved else "unresolved"):
            raise ProtocolError("这不是您正在接待的会话")
        answers = [m.body for m in self.store.messages(conversation_id)
                   if m.sender == "seat" and m.author == seat.name and m.kind == "text"]
        if answers:
            self.gaps.attach_seat_answer(conversation_id, seat.name, "\n".join(answers))
        await self._say(conversation_id, "system", RATING_PROMPT)
        await self.notify.customer_page(conversation_id, CHAT_ENDED,
                                        {"conversation_id": conversation_id})
        await self.fill(seat)

    def queues(self) -> dict[str, list[dict[str, Any]]]:
        """Waiting chats per department (what supervisors watch)."""
        by_department: dict[str, list[dict[str, Any]]] = {}
        for conversation in self.store.queue():
            by_department.setdefault(conversation["department"], []).append(
                self.chat(conversation))
        return by_department
