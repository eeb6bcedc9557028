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

    def last_answered(self, conversation_id: str) -> dict | None:
        rows = list(self.table.rows_where("conversation_id = ? AND outcome = 'answered'",
                                          [conversation_id], order_by="turn desc", limit=1))
        return rows[0] if rows else None

    def give_feedback(self, conversation_id: str, resolved: bool) -> dict | None:
        """Mark the conversation's last answered turn; None when nothing was answered."""
        turn = self.last_answered(conversation_id)
        if turn is None:
            return None
        self.table.update(turn["id"], {"feedback": RESOLVED if resolved else UNRESOLVED,
                                       "feedback_at": clock.timestamp()})
        return self.table.get(turn["id"])

    def abandoned_clarifications(self, before: str) -> list[dict]:
        """Clarifying questions asked before `before` that the person never chose a service
        for (a choice answers the same text), and not yet taken as gap questions."""
        return list(self.db.query(
            "SELECT id, conversation_id, text FROM turns AS c WHERE outcome = 'clarify' AND "
            "gap_at IS NULL AND created_at < ? AND NOT EXISTS (SELECT 1 FROM turns AS a WHERE "
            "a.conversation_id = c.conversation_id AND a.turn > c.turn AND a.text = c.text AND "
            "a.outcome = 'answered') ORDER BY id LIMIT 500", [before]))

    def mark_taken(self, turn_id: int) -> None:
        self.table.update(turn_id, {"gap_at": clock.timestamp()})

    def of_conversation(self, conversation_id: str) -> list[dict]:
        return list(self.table.rows_where("conversation_id = ?", [conversation_id],
                                          order_by="turn"))
