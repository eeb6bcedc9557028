"""The record of every bot turn: its outcome, the entry it answered with, and the citizen's
feedback (已解决 / 没解决). Texts are masked; timestamps are Asia/Shanghai with their offset."""

from __future__ import annotations

from kb import clock
from kb.store import KnowledgeBase
from nlu.privacy import mask_personal_data

MAX_TEXT_CHARS = 1000
RESOLVED, UNRESOLVED = "resolved", "unresolved"


class TurnLog:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.db = kb.db
        self.table = kb.db["turns"]

    def record(self, conversation_id: str, text: str, outcome: str, item_no: int | None = None,
               entry_id: str | None = None, topic: str | None = None) -> int:
        # One statement: numbering and inserting cannot interleave with another writer's.
        cursor = self.db.execute(
            "INSERT INTO turns (conversation_id, turn, text, outcome, item_no, entry_id, topic,"
            " created_at) SELECT ?, coalesce(max(turn), 0) + 1, ?, ?, ?, ?, ?, ?"
            " FROM turns WHERE conversation_id = ?",
            [conversation_id, mask_personal_data(text)[:MAX_TEXT_CHARS], str(outcome), item_no,
             entry_id, topic, clock.timestamp(), conversation_id])
        self.db.conn.commit()
        return cursor.lastrowid

    def give_feedback(self, conversation_id: str, resolved: bool) -> dict | None:
        """Mark the conversation's last answered turn; None when nothing was answered."""
        rows = list(self.table.rows_where("conversation_id = ? AND outcome = 'answered'",
                                          [conversation_id], order_by="turn desc", limit=1))
        if not rows:
            return None
        self.table.update(rows[0]["id"], {"feedback": RESOLVED if resolved else UNRESOLVED,
                                          "feedback_at": clock.timestamp()})
        return self.table.get(rows[0]["id"])

    def of_conversation(self, conversation_id: str) -> list[dict]:
        return list(self.table.rows_where("conversation_id = ?", [conversation_id],
                                          order_by="turn"))
