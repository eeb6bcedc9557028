"""Gateway conversations and their messages, in the database (not in process memory), so a
restarted gateway or a second one behind Redis sees the same state.

A conversation's mode: "bot" (Rasa answers), "queued" (waiting for a seat of `department`),
"human" (`seat` has it; the bot stays silent), back to "bot" when the seat ends it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils.db import NotFoundError

from kb import clock
from kb.store import KnowledgeBase

BOT, QUEUED, HUMAN = "bot", "queued", "human"
KINDS = ("text", "image", "voice")


class UnknownConversation(Exception):
    """No conversation has this id."""


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    sender: str  # customer, bot, seat, system
    author: str
    kind: str  # text, image, voice
    body: str
    extra: dict[str, Any]
    created_at: str

    def as_event(self) -> dict[str, Any]:
        return {"id": self.id, "conversation_id": self.conversation_id, "sender": self.sender,
                "author": self.author, "kind": self.kind, "body": self.body, **self.extra,
                "created_at": self.created_at}


def _message(row: dict[str, Any]) -> Message:
    return Message(row["id"], row["conversation_id"], row["sender"], row["author"] or "",
                   row["kind"], row["body"] or "", json.loads(row["extra"] or "{}"),
                   row["created_at"])


class ConversationStore:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.db = kb.db

    def open(self, conversation_id: str) -> dict[str, Any]:
        """The conversation, created in bot mode when new."""
        self.db["conversations"].insert({"id": conversation_id, "mode": BOT,
                                         "created_at": clock.timestamp(), "transfers": 0},
                                        ignore=True)
        return self.get(conversation_id)

    def get(self, conversation_id: str) -> dict[str, Any]:
        try:
            return self.db["conversations"].get(conversation_id)
        except NotFoundError:
            raise UnknownConversation(f"no conversation {conversation_id!r}") from None

    def add(self, conversation_id: str, sender: str, body: str, kind: str = "text",
            author: str = "", extra: dict[str, Any] | None = None) -> Message:
        row = {"conversation_id": conversation_id, "sender": sender, "author": author,
               "kind": kind, "body": body,
               "extra": json.dumps(extra or {}, ensure_ascii=False),
               "created_at": clock.timestamp()}
        row["id"] = self.db["messages"].insert(row).last_pk
        return _message(row)

    def messages(self, conversation_id: str, after: int = 0, notes: bool = False
                 ) -> list[Message]:
        """The conversation's messages after id `after`, oldest first (a reconnecting client
        asks for those after the last one it has); seats' internal notes only if `notes`."""
        where = "conversation_id = ? AND id > ?" + ("" if notes else " AND sender != 'note'")
        rows = self.db["messages"].rows_where(where, [conversation_id, after], order_by="id")
        return [_message(row) for row in rows]

    def escalate(self, conversation_id: str, department: str, item_no: int | None,
                 after_hours: bool = False) -> None:
        with self.db.atomic():
            self.db["conversations"].update(conversation_id, {
                "mode": QUEUED, "department": department, "item_no": item_no, "seat": None,
                "escalated_at": clock.timestamp(), "first_reply_at": None, "ended_at": None,
                "resolution": None, "after_hours": int(after_hours), "warned_at": None,
                "breached_at": None})

    def mark(self, conversation_id: str, column: str) -> None:
        """Record when a service-level mark (warned_at, breached_at) was reached."""
        assert column in ("warned_at", "breached_at")
        self.db["conversations"].update(conversation_id, {column: clock.timestamp()})

    def queue(self, department: str | None = None) -> list[dict[str, Any]]:
        """Waiting conversations, longest waiting first."""
        where, args = "mode = ?", [QUEUED]
        if department is not None:
            where, args = where + " AND department = ?", [*args, department]
        return list(self.db["conversations"].rows_where(where, args,
                                                        order_by="escalated_at, rowid"))

    def claim(self, conversation_id: str, seat: str) -> bool:
        """Give a waiting conversation to `seat`; False when someone else has it already
        (one UPDATE: never two seats on one chat, whichever gateway process asks)."""
        cursor = self.db.execute(
            "UPDATE conversations SET mode = ?, seat = ? WHERE id = ? AND mode = ?",
            [HUMAN, seat, conversation_id, QUEUED])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def first_reply(self, conversation_id: str) -> None:
        self.db.execute("UPDATE conversations SET first_reply_at = ? WHERE id = ? "
                        "AND first_reply_at IS NULL", [clock.timestamp(), conversation_id])
        self.db.conn.commit()

    def end(self, conversation_id: str, resolution: str) -> None:
        self.db["conversations"].update(conversation_id, {
            "mode": BOT, "ended_at": clock.timestamp(), "resolution": resolution})

    def transfer(self, conversation_id: str, department: str) -> int:
        """Back to a queue (another department's, maybe); returns the transfer count."""
        self.db.execute("UPDATE conversations SET mode = ?, seat = NULL, department = ?, "
                        "transfers = transfers + 1 WHERE id = ?",
                        [QUEUED, department, conversation_id])
        self.db.conn.commit()
        return self.get(conversation_id)["transfers"]

    def requeue(self, seat: str) -> list[str]:
        """Put the seat's chats back in their queues (it went away); returns their ids."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM conversations WHERE mode = ? AND seat = ?", [HUMAN, seat])]
        self.db.execute("UPDATE conversations SET mode = ?, seat = NULL WHERE mode = ? "
                        "AND seat = ?", [QUEUED, HUMAN, seat])
        self.db.conn.commit()
        return ids

    def load(self, seat: str) -> int:
        """How many chats `seat` has now."""
        return self.db.execute("SELECT count(*) FROM conversations WHERE mode = ? AND seat = ?",
                               [HUMAN, seat]).fetchone()[0]

    def position(self, conversation_id: str) -> int | None:
        """1 for the next in its department's queue; None when not waiting."""
        conversation = self.get(conversation_id)
        if conversation["mode"] != QUEUED:
            return None
        ahead = [c["id"] for c in self.queue(conversation["department"])]
        return ahead.index(conversation_id) + 1
