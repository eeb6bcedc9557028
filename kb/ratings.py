"""5-level satisfaction ratings (好差评): 1 very unhappy … 5 very happy."""

from __future__ import annotations

from kb import clock
from kb.errors import KnowledgeBaseError
from kb.store import KnowledgeBase
from nlu.privacy import mask_personal_data

LEVELS = range(1, 6)
LOW_RATING = 2  # 1 and 2: the answer did not serve; its question becomes a gap question
MAX_COMMENT_CHARS = 500


class InvalidRating(KnowledgeBaseError):
    """A rating outside 1..5."""


class Ratings:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.table = kb.db["ratings"]

    def record(self, conversation_id: str, level: int, item_no: int | None = None,
               seat: str | None = None, comment: str = "") -> int:
        """Store a rating; `seat` is the seat that ended the chat, when a human had it."""
        if isinstance(level, bool) or level not in LEVELS:
            raise InvalidRating(f"a rating is 1 to 5, not {level!r}")
        return self.table.insert({
            "conversation_id": conversation_id, "level": level, "item_no": item_no,
            "seat": seat, "comment": mask_personal_data(comment)[:MAX_COMMENT_CHARS],
            "created_at": clock.timestamp()}).last_pk

    def of_conversation(self, conversation_id: str) -> list[dict]:
        return list(self.table.rows_where("conversation_id = ?", [conversation_id],
                                          order_by="id"))
