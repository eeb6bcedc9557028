"""Gateway conversations and their messages, in the database (not in process memory), so a
restarted gateway or a second one behind Redis sees the same state. The moves between modes
are declared in handoff/conversation.py; each is one conditional UPDATE here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from handoff.conversation import MOVES, Mode, Move
from kb import clock
from kb.store import KnowledgeBase

BOT, QUEUED, HUMAN = Mode.BOT, Mode.QUEUED, Mode.HUMAN
KINDS = ("text", "image", "voice")


class UnknownConversation(Exception):
    """No conversation has this id."""


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    sender: str  # customer, bot, seat, system, note
    author: str
    kind: str  # text, image, voice
    body: str
    extra: dict[str, Any]
    created_at: str

    def as_event(self) -> dict[str, Any]:
        return {"id": self.id, "conversation_id": self.conversation_id, "sender": self.sender,
                "author": self.author, "kind": self.kind, "body": self.body, **self.extra,
                "created_at": self.created_at}


# Plain SQL on the path of every message: sqlite_utils' `db[table]`, `.get`, `.insert` and
# `.rows_where` read the schema (sqlite_master, table_info) on each call, a tenth of the
# gateway's CPU per bot turn (py-spy).
def insert(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert `row`; its rowid."""
    marks = ", ".join("?" for _ in row)
    return db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})",
                      list(row.values())).lastrowid


def select(db: Database, sql: str, args: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, args)
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _message(row: dict[str, Any]) -> Message:
    return Message(row["id"], row["conversation_id"], row["sender"], row["author"] or "",
                   row["kind"], row["body"] or "", json.loads(row["extra"] or "{}"),
                   row["created_at"])


class ConversationStore:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.db = kb.db

    def open(self, conversation_id: str) -> dict[str, Any]:
        """The conversation, created in bot mode when new."""
        now = clock.timestamp()
        self.db["conversations"].insert({"id": conversation_id, "mode": BOT.value,
                                         "created_at": now, "last_message_at": now,
                                         "transfers": 0}, ignore=True)
        return self.get(conversation_id)

    def get(self, conversation_id: str) -> dict[str, Any]:
        found = select(self.db, "SELECT * FROM conversations WHERE id = ?", [conversation_id])
        if not found:
            raise UnknownConversation(f"no conversation {conversation_id!r}")
        return found[0]

    def resumable(self, conversation_id: str, idle_seconds: float) -> bool:
        """Whether a client may resume this conversation: it exists, and a human has it or
        its last message is recent (a shared computer shows no one else's old chat)."""
        try:
            conversation = self.get(conversation_id)
        except UnknownConversation:
            return False
        if conversation["mode"] != BOT:
            return True
        last = conversation["last_message_at"] or conversation["created_at"]
        return clock.now() - datetime.fromisoformat(last) <= timedelta(seconds=idle_seconds)

    def add(self, conversation_id: str, sender: str, body: str, kind: str = "text",
            author: str = "", extra: dict[str, Any] | None = None) -> Message:
        row = {"conversation_id": conversation_id, "sender": sender, "author": author,
               "kind": kind, "body": body,
               "extra": json.dumps(extra or {}, ensure_ascii=False),
               "created_at": clock.timestamp()}
        with self.kb.write():
            row["id"] = insert(self.db, "messages", row)
            if sender != "note":
                self.db.execute("UPDATE conversations SET last_message_at = ? WHERE id = ?",
                                [row["created_at"], conversation_id])
        return _message(row)

    def messages(self, conversation_id: str, after: int = 0, notes: bool = False
                 ) -> list[Message]:
        """The conversation's messages after id `after`, oldest first (a reconnecting client
        asks for those after the last one it has); seats' internal notes only if `notes`."""
        where = "conversation_id = ? AND id > ?" + ("" if notes else " AND sender != 'note'")
        rows = select(self.db, f"SELECT * FROM messages WHERE {where} ORDER BY id",
                      [conversation_id, after])
        return [_message(row) for row in rows]

    def sent(self, conversation_id: str, key: str) -> Message | None:
        """The customer's message the page sent with `key`, if it was stored."""
        rows = select(self.db, "SELECT * FROM messages WHERE conversation_id = ? AND sender = "
                      "'customer' AND json_extract(extra, '$.key') = ? LIMIT 1",
                      [conversation_id, key])
        return _message(rows[0]) if rows else None

    def last_message(self, conversation_id: str) -> Message | None:
        rows = select(self.db, "SELECT * FROM messages WHERE conversation_id = ? AND "
                      "sender != 'note' ORDER BY id DESC LIMIT 1", [conversation_id])
        return _message(rows[0]) if rows else None

    def _move(self, move: Move, conversation_id: str, changes: dict[str, Any],
              where: str = "", args: tuple = ()) -> bool:
        """Make `move` if the conversation is in a mode it may start from (one UPDATE)."""
        sources, target = MOVES[move]
        changes = {"mode": target.value, **changes}
        assignments = ", ".join(f"{column} = ?" for column in changes)
        marks = ", ".join("?" for _ in sources)
        cursor = self.db.execute(
            f"UPDATE conversations SET {assignments} WHERE id = ? AND mode IN ({marks}) {where}",
            [*changes.values(), conversation_id, *sorted(m.value for m in sources), *args])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def escalate(self, conversation_id: str, department: str, item_no: int | None,
                 after_hours: bool = False) -> bool:
        return self._move(Move.ESCALATE, conversation_id, {
            "department": department, "item_no": item_no, "seat": None,
            "escalated_at": clock.timestamp(), "first_reply_at": None, "ended_at": None,
            "resolution": None, "after_hours": int(after_hours), "warned_at": None,
            "breached_at": None, "rated_at": None})

    def claim(self, conversation_id: str, seat: str) -> bool:
        """Give a waiting conversation to `seat`; False when someone else has it already
        (one UPDATE: never two seats on one chat, whichever gateway process asks)."""
        return self._move(Move.CLAIM, conversation_id, {"seat": seat})

    def end(self, conversation_id: str, seat: str, resolution: str) -> bool:
        return self._move(Move.END, conversation_id,
                          {"ended_at": clock.timestamp(), "resolution": resolution},
                          "AND seat = ?", (seat,))

    def transfer(self, conversation_id: str, seat: str, department: str) -> int | None:
        """Back to a queue (another department's, maybe); the new transfer count, or None
        when `seat` no longer has the chat."""
        moved = self._move(Move.TRANSFER, conversation_id,
                           {"seat": None, "department": department}, "AND seat = ?", (seat,))
        if not moved:
            return None
        self.db.execute("UPDATE conversations SET transfers = transfers + 1 WHERE id = ?",
                        [conversation_id])
        self.db.conn.commit()
        return self.get(conversation_id)["transfers"]

    def requeue(self, seat: str) -> list[str]:
        """Put the seat's chats back in their queues (it went away); returns their ids."""
        ids = [row[0] for row in self.db.execute(
            "SELECT id FROM conversations WHERE mode = ? AND seat = ?", [HUMAN.value, seat])]
        return [conversation_id for conversation_id in ids if self._move(
            Move.REQUEUE, conversation_id, {"seat": None}, "AND seat = ?", (seat,))]

    def mark(self, conversation_id: str, column: str) -> bool:
        """Record when a service-level mark (warned_at, breached_at) was first reached."""
        assert column in ("warned_at", "breached_at")
        cursor = self.db.execute(f"UPDATE conversations SET {column} = ? WHERE id = ? AND "
                                 f"{column} IS NULL", [clock.timestamp(), conversation_id])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def mark_rated(self, conversation_id: str) -> bool:
        """True once for each ended human chat: it may be rated then, never again."""
        cursor = self.db.execute(
            "UPDATE conversations SET rated_at = ? WHERE id = ? AND mode = ? AND "
            "ended_at IS NOT NULL AND rated_at IS NULL",
            [clock.timestamp(), conversation_id, BOT.value])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def unanswered(self, escalated_before: str, column: str) -> list[dict[str, Any]]:
        """Waiting or held chats escalated before then, with no first reply and no `column`
        mark yet (what the service-level sweep looks for)."""
        assert column in ("warned_at", "breached_at")
        return list(self.db["conversations"].rows_where(
            f"mode IN (?, ?) AND first_reply_at IS NULL AND after_hours = 0 AND "
            f"{column} IS NULL AND escalated_at <= ?",
            [QUEUED.value, HUMAN.value, escalated_before]))

    def queue(self, department: str | None = None) -> list[dict[str, Any]]:
        """Waiting conversations, longest waiting first."""
        where, args = "mode = ?", [QUEUED.value]
        if department is not None:
            where, args = where + " AND department = ?", [*args, department]
        return list(self.db["conversations"].rows_where(where, args,
                                                        order_by="escalated_at, rowid"))

    def held_by(self, seat: str) -> list[dict[str, Any]]:
        return list(self.db["conversations"].rows_where(
            "mode = ? AND seat = ?", [HUMAN.value, seat], order_by="escalated_at, rowid"))

    def first_reply(self, conversation_id: str) -> None:
        self.db.execute("UPDATE conversations SET first_reply_at = ? WHERE id = ? "
                        "AND first_reply_at IS NULL", [clock.timestamp(), conversation_id])
        self.db.conn.commit()

    def load(self, seat: str) -> int:
        """How many chats `seat` has now."""
        return self.db.execute("SELECT count(*) FROM conversations WHERE mode = ? AND seat = ?",
                               [HUMAN.value, seat]).fetchone()[0]

    def position(self, conversation_id: str) -> int | None:
        """1 for the next in its department's queue; None when not waiting."""
        conversation = self.get(conversation_id)
        if conversation["mode"] != QUEUED:
            return None
        ahead = [c["id"] for c in self.queue(conversation["department"])]
        return ahead.index(conversation_id) + 1

    # -- what a seat has read -----------------------------------------------------------

    def mark_read(self, seat: str, conversation_id: str, last_id: int) -> None:
        self.db.execute(
            "INSERT INTO seat_reads (seat, conversation_id, last_id) VALUES (?, ?, ?) "
            "ON CONFLICT (seat, conversation_id) DO UPDATE SET last_id = "
            "max(last_id, excluded.last_id)", [seat, conversation_id, last_id])
        self.db.conn.commit()

    def unread(self, seat: str, conversation_id: str) -> int:
        """The citizen's messages the seat has not read yet."""
        row = self.db.execute("SELECT last_id FROM seat_reads WHERE seat = ? AND "
                              "conversation_id = ?", [seat, conversation_id]).fetchone()
        return self.db.execute(
            "SELECT count(*) FROM messages WHERE conversation_id = ? AND id > ? AND "
            "sender = 'customer'", [conversation_id, row[0] if row else 0]).fetchone()[0]
