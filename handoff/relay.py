"""Bot turns through the gateway, kept when the bot cannot answer.

Every bot-mode message is stored with its hold (handoff/backlog.py) and tried at once. When
Rasa or the action server does not answer (handoff/bot.py: down, or a reply without payload)
the message stays held, the conversation is told once per outage that Xiaoshen is
recovering, and later messages of that conversation queue behind it. A turn slower than the
turn timeout is told the same at that moment, but its reply is still awaited (sent again, it
would only double the work of a bot that is overloaded). While the bot is down, new messages
of every conversation are held at once. A loop probes the bot's health with backoff and,
once it is back, answers each conversation's held messages in order, once, a few
conversations at a time. A request for a human made meanwhile goes
straight to a seat (the desk escalates without the bot), and the seat reads what was held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakValueDictionary

from handoff.backlog import Backlog
from handoff.bot import BotClient, BotUnavailable
from handoff.notify import Notifier
from handoff.protocol import TYPING, Outcome, ReplyPayload
from handoff.store import BOT, Message

log = logging.getLogger(__name__)

RECOVERING = "小申正在恢复，请稍候，或点击转人工。"
GAVE_UP = "抱歉，小申暂时无法回复，请稍后再试，或发送“转人工”。"
ASKS_FOR_HUMAN = frozenset({"/request_human", "转人工"})  # the button's payload, or typed
BACKOFF = (0.5, 1.0, 2.0)  # seconds between health probes while the bot is down (then 2 s)
IDLE_POLL = 1.0  # seconds between looks for messages held by a gateway that went away
MAX_ATTEMPTS = 5  # failed tries of one message, after which it gets the apology instead
PARALLEL = 16  # conversations answered at once after an outage (about the live load)

Say = Callable[..., Awaitable[Message]]


class BotRelay:
    def __init__(self, bot: BotClient, backlog: Backlog, notify: Notifier, say: Say,
                 escalate: Callable[[str, int | None], Awaitable[None]],
                 to_human: Callable[[str], Awaitable[None]]) -> None:
        self.bot = bot
        self.backlog = backlog
        self.notify = notify
        self.say = say  # the desk's: store a message and tell the customer
        self.escalate = escalate  # the bot's reply was a hand-over
        self.to_human = to_human  # the citizen asked for a human while the bot was down
        self.down = False  # this gateway saw the bot fail and has not seen it back yet
        # One turn at a time per conversation, so its messages are answered in order; a
        # flood from one session waits behind itself. (Weak: a lock nobody waits on goes.)
        self.locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        self.failed = asyncio.Event()  # the loop starts probing at once

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        return self.locks.setdefault(conversation_id, asyncio.Lock())

    async def answer(self, message: Message) -> None:
        """A customer's message in a bot-mode conversation, stored with its hold."""
        if message.body.strip() in ASKS_FOR_HUMAN and (
                self.down or self.backlog.earlier(message)):
            await self.to_human(message.conversation_id)  # not behind the turns that wait
            return
        async with self._lock(message.conversation_id):
            if self.down or self.backlog.earlier(message):
                await self._hold(message, failed=False)
            else:
                await self._try(message)

    async def _try(self, message: Message) -> bool:
        conversation_id = message.conversation_id
        await self.notify.customer_page(conversation_id, TYPING, {"who": "bot"})
        turn = asyncio.ensure_future(self.bot.send(conversation_id, message.body))
        try:
            try:
                replies, payload = await asyncio.wait_for(asyncio.shield(turn),
                                                          self.bot.turn_timeout)
            except TimeoutError:
                self._went_down()
                if message.body.strip() in ASKS_FOR_HUMAN:  # a seat now, not the bot's reply
                    turn.add_done_callback(lambda done: done.exception())
                    await self.to_human(conversation_id)
                    return True
                log.warning("message %s: the bot is slow; still waiting", message.id)
                await self._tell(conversation_id)
                replies, payload = await self._await(turn, message)
        except BotUnavailable as error:
            log.warning("message %s held: %s", message.id, error)
            self._went_down()
            await self._hold(message, failed=True)
            return False
        await self._deliver(message, replies, payload)
        return True

    async def _await(self, turn: asyncio.Future, message: Message) -> Any:
        """A slow turn's reply, keeping the message claimed meanwhile."""
        while not (await asyncio.wait({turn}, timeout=self.backlog.claim_seconds / 2))[0]:
            self.backlog.extend(message.id)
        return turn.result()

    def _went_down(self) -> None:
        if not self.down:
            self.down = True
            self.failed.set()

    async def _hold(self, message: Message, failed: bool) -> None:
        conversation_id = message.conversation_id
        if message.body.strip() in ASKS_FOR_HUMAN:
            await self.to_human(conversation_id)
            return
        self.backlog.release(message.id, failed=failed)
        await self._tell(conversation_id)

    async def _tell(self, conversation_id: str) -> None:
        """Once per outage of the conversation: Xiaoshen is recovering."""
        if self.backlog.start_outage(conversation_id):
            await self.say(conversation_id, "system", RECOVERING)

    async def _deliver(self, message: Message, replies: list[dict[str, Any]],
                       payload: ReplyPayload) -> None:
        if self.backlog.store.get(message.conversation_id)["mode"] != BOT:
            log.info("late reply to %s dropped: a seat has the chat", message.id)
            self.backlog.drop(message.conversation_id)
            return
        extra = {"outcome": payload.outcome.value, "reply_to": message.id,
                 # the bot's best entries, which the seat sees in the history
                 "candidates": payload.candidates[:3]}
        texts = [("bot", reply["text"], {"buttons": reply.get("buttons") or [], **extra})
                 for reply in replies if reply.get("text")]
        for stored in self.backlog.answered(message, texts):
            await self.notify.to_customer(stored)
        if payload.outcome == Outcome.HANDOFF:
            await self.escalate(message.conversation_id, payload.item_no)

    # -- after an outage, or a gateway that went away mid-turn -----------------------------

    async def run(self) -> None:
        """Probe the bot while it is down (with backoff); answer what is held once it is
        back. Runs for the life of the gateway."""
        failures = 0
        while True:
            pause = BACKOFF[min(failures, len(BACKOFF)) - 1] if failures else IDLE_POLL
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.failed.wait(), pause)
            self.failed.clear()
            try:
                failures = 0 if await self._round() else failures + 1
            except Exception:  # a bad round must not end the recovery for good
                log.exception("answering held messages failed")
                failures += 1

    async def _round(self) -> bool:
        """One look: False while the bot is still down."""
        due = self.backlog.due_conversations()
        if not due and not self.down:
            return True
        if not await self.bot.healthy():
            self.down = True
            return False
        self.down = False
        gate = asyncio.Semaphore(PARALLEL)

        async def drain(conversation_id: str) -> bool:
            async with gate:
                return await self._drain(conversation_id)
        return all(await asyncio.gather(*(drain(c) for c in due)))

    async def _drain(self, conversation_id: str) -> bool:
        """Answer the conversation's held messages in order; False when the bot failed."""
        async with self._lock(conversation_id):
            while held := self.backlog.claim_next(conversation_id):
                if self.backlog.store.get(conversation_id)["mode"] != BOT:
                    self.backlog.drop(conversation_id)  # a seat has it: the seat reads them
                    return True
                if held.attempts >= MAX_ATTEMPTS:
                    log.warning("message %s given up after %d tries", held.message.id,
                                held.attempts)
                    for stored in self.backlog.answered(held.message, [
                            ("system", GAVE_UP, {"reply_to": held.message.id})]):
                        await self.notify.to_customer(stored)
                    continue
                if not await self._try(held.message):
                    return False
        return True
