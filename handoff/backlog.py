"""Citizens' messages waiting for the bot, in the database: each bot-mode message is stored
with its hold in one transaction, and the hold goes in the transaction that stores the bot's
answer. A gateway killed mid-turn, or a bot that is down, leaves the hold behind, and some
gateway answers it later, in order. A hold is claimed by moving its due time forward, so two
gateways never try the same message at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from handoff.bot import TURN_TIMEOUT
from handoff.store import BOT, ConversationStore, Message, insert
from kb import clock


@dataclass(frozen=True)
class Held:
    message: Message
    attempts: int  # failed tries so far


class Backlog:
    def __init__(self, store: ConversationStore,
                 claim_seconds: float = TURN_TIMEOUT + 2.0) -> None:
        self.store = store
        self.kb = store.kb
        self.db = store.db
        self.claim_seconds = claim_seconds  # how long one try may take, at most

    def keep(self, conversation_id: str, text: str, extra: dict[str, Any] | None) -> Message:
        """Store a customer's message with its hold, claimed for the caller's first try."""
        with self.kb.write():
            message = self.store.add(conversation_id, "customer", text, extra=extra)
            insert(self.db, "held_messages", {
                "message_id": message.id, "conversation_id": conversation_id,
                "held_at": message.created_at, "due_at": time.time() + self.claim_seconds})
        return message

    def earlier(self, message: Message) -> bool:
        """Whether messages of the conversation before this one still wait for the bot."""
        return self.db.execute(
            "SELECT 1 FROM held_messages WHERE conversation_id = ? AND message_id < ? LIMIT 1",
            [message.conversation_id, message.id]).fetchone() is not None

    def release(self, message_id: int, delay: float = 0.0, failed: bool = True) -> None:
        """Let any gateway try the message again after `delay` seconds."""
        self.db.execute("UPDATE held_messages SET due_at = ?, attempts = attempts + ? "
                        "WHERE message_id = ?", [time.time() + delay, int(failed), message_id])
        self.db.conn.commit()

    def extend(self, message_id: int) -> None:
        """Keep the claim on a message whose try is still under way."""
        self.db.execute("UPDATE held_messages SET due_at = ? WHERE message_id = ?",
                        [time.time() + self.claim_seconds, message_id])
        self.db.conn.commit()

    def due_conversations(self, limit: int = 100) -> list[str]:
        """Conversations whose oldest held message may be tried now, the longest waiting
        first."""
        rows = self.db.execute(
            "SELECT conversation_id, min(message_id) AS first, min(due_at) AS due "
            "FROM held_messages GROUP BY conversation_id HAVING due <= ? ORDER BY first "
            "LIMIT ?", [time.time(), limit])
        return [row[0] for row in rows]

    def claim_next(self, conversation_id: str) -> Held | None:
        """The conversation's oldest held message, claimed for one try; None when there is
        none, or it is not due (another gateway is trying it)."""
        row = self.db.execute(
            "SELECT message_id, due_at, attempts FROM held_messages WHERE conversation_id = ? "
            "ORDER BY message_id LIMIT 1", [conversation_id]).fetchone()
        if row is None:
            return None
        now = time.time()
        cursor = self.db.execute(
            "UPDATE held_messages SET due_at = ? WHERE message_id = ? AND due_at = ? "
            "AND due_at <= ?", [now + self.claim_seconds, row[0], row[1], now])
        self.db.conn.commit()
        if cursor.rowcount != 1:
            return None
        [message] = self.store.messages(conversation_id, after=row[0] - 1)[:1]
        return Held(message, row[2])

    def answered(self, message: Message, replies: list[tuple[str, str, dict[str, Any]]]
                 ) -> list[Message]:
        """Store the replies (sender, text, extra) to a held message and drop its hold, in
        one transaction; the conversation's outage ends when nothing of it waits any more."""
        with self.kb.write():
            stored = [self.store.add(message.conversation_id, sender, text, extra=extra)
                      for sender, text, extra in replies]
            self._drop("message_id = ?", [message.id])
            self._recovered(message.conversation_id)
        return stored

    def drop(self, conversation_id: str) -> None:
        """Nothing of the conversation waits for the bot any more (a person will read it)."""
        with self.kb.write():
            self._drop("conversation_id = ?", [conversation_id])
            self._recovered(conversation_id)

    def _drop(self, where: str, args: list[Any]) -> None:
        self.db.execute(f"DELETE FROM held_messages WHERE {where}", args)

    def _recovered(self, conversation_id: str) -> None:
        self.db.execute(
            "UPDATE conversations SET recovering_since = NULL WHERE id = ? AND NOT EXISTS "
            "(SELECT 1 FROM held_messages WHERE conversation_id = ?)",
            [conversation_id, conversation_id])

    def start_outage(self, conversation_id: str) -> bool:
        """True once per outage of a conversation: when it should be told."""
        cursor = self.db.execute(
            "UPDATE conversations SET recovering_since = ? WHERE id = ? AND "
            "recovering_since IS NULL AND mode = ?", [clock.timestamp(), conversation_id,
                                                      BOT.value])
        self.db.conn.commit()
        return cursor.rowcount == 1
