"""The knowledge-gap loop's intake: every question the bot could not answer is recorded as a
miss, masked, unless it is no question at all (noise, small talk, out-of-scope matters).

Any process may record (the action server, the gateway); the grouper, which holds the
embedder, places each miss into a task of the responsible department (`kb.grouping`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from kb import clock
from kb.store import KnowledgeBase
from nlu.noise import why_not_a_question
from nlu.privacy import mask_personal_data

DUE_WORKING_DAYS = 5
PLATFORM_DEPARTMENT = "区政府办公室（区“一网通办”专班）"  # owns misses no service claims
MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 4000


class MissReason(StrEnum):
    FALLBACK = "fallback"  # the bot found nothing good enough
    NOT_COVERED = "not_covered"  # a service the base lacks
    CLARIFY_ABANDONED = "clarify_abandoned"  # asked which service, and got no choice
    UNRESOLVED = "unresolved"  # 没解决 after an answer
    LOW_RATING = "low_rating"  # rated 1 or 2
    ESCALATION = "escalation"  # handed to a human seat
    AFTER_HOURS = "after_hours"  # a message left outside seat hours
    MISSING_ASPECT = "missing_aspect"  # an aspect asked that the service's entries lack


@dataclass(frozen=True)
class Miss:
    text: str
    reason: MissReason
    item_no: int | None = None  # the service it is about, when the source knows
    department: str | None = None  # e.g. that of a service the base lacks
    conversation_id: str = ""


class GapLog:
    def __init__(self, kb: KnowledgeBase, place: Callable[[], object] | None = None) -> None:
        """`place`: called after each recorded miss (the grouper's `place_pending`) in the
        process that holds the embedder; elsewhere misses wait for it."""
        self.kb = kb
        self.place = place

    def record(self, miss: Miss) -> int | None:
        """The recorded question's id, or None when the text asks nothing."""
        if why_not_a_question(miss.text) is not None:
            return None
        text = mask_personal_data(miss.text.strip())[:MAX_QUESTION_CHARS]
        with self.kb.write() as db:
            # One asker's question counts once, however many ways it went unanswered (a
            # clarification left for 转人工, then a low rating).
            same = db.execute("SELECT id FROM gap_questions WHERE conversation_id = ? AND "
                              "text = ? AND conversation_id != ''",
                              [miss.conversation_id, text]).fetchone()
            if same:
                return same[0]
            question_id = db["gap_questions"].insert({
                "text": text, "reason": str(miss.reason), "item_no": miss.item_no,
                "department": miss.department, "conversation_id": miss.conversation_id,
                "asked_at": clock.timestamp()}).last_pk
        if self.place is not None:
            self.place()
        return question_id

    def attach_seat_answer(self, conversation_id: str, seat: str, answer: str,
                           candidate_entry_id: str | None = None) -> int:
        """The seat's answer to the conversation's escalated question(s), and the candidate
        entry the seat saved from it, if any; how many questions it was attached to."""
        fields = {"seat": seat, "seat_answer": mask_personal_data(answer)[:MAX_ANSWER_CHARS]}
        if candidate_entry_id:
            fields["candidate_entry_id"] = candidate_entry_id
        sets = ", ".join(f"{name} = ?" for name in fields)
        with self.kb.write() as db:
            return db.execute(
                f"UPDATE gap_questions SET {sets} WHERE conversation_id = ? AND reason IN "
                "('escalation', 'after_hours')", [*fields.values(), conversation_id]).rowcount

    def waiting(self) -> int:
        """Misses not yet placed into a task."""
        return self.kb.db.execute(
            "SELECT count(*) FROM gap_questions WHERE task_id IS NULL").fetchone()[0]
