"""What crosses process boundaries, spelled once: reply outcomes, the custom payload every bot
reply carries, and the Socket.IO events of Rasa's socket channel protocol. No I/O here.

The action server writes payloads, the REST client, the evaluation and the gateway read them;
all of them import these names instead of spelling the strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

MAX_MESSAGE_CHARS = 2000  # a long citizen letter fits; a pasted document does not


class ProtocolError(ValueError):
    """A payload or event that does not have the agreed shape."""


class Outcome(StrEnum):
    """What a bot reply did with the message it answered."""

    ANSWERED = "answered"  # answered from a knowledge-base entry
    CLARIFY = "clarify"  # asked which service is meant (quick replies)
    FALLBACK = "fallback"  # could not answer; a human seat was offered and a gap task opened
    HANDOFF = "handoff"  # the conversation goes to a human seat
    OUT_OF_SCOPE = "out_of_scope"  # legal, litigation or complaint matter: its own channel
    CHITCHAT = "chitchat"  # greetings, thanks, small talk


class Ranked(Protocol):
    """A knowledge-base candidate as payloads show it (kb.decision.Candidate)."""

    def as_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReplyPayload:
    """The custom JSON of a bot reply, so channels tell outcomes apart without the wording."""

    outcome: Outcome
    item_no: int | None = None
    entry_id: str | None = None
    score: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    topic: str | None = None  # what the answered entry is about (materials, fees, …)

    @classmethod
    def of(cls, outcome: Outcome, item_no: int | None = None, entry_id: str | None = None,
           score: float | None = None, candidates: Iterable[Ranked] = (),
           topic: str | None = None) -> ReplyPayload:
        return cls(outcome, item_no, entry_id, round(score, 4) if score is not None else None,
                   [c.as_dict() for c in candidates], topic)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "item_no": self.item_no,
                "entry_id": self.entry_id, "topic": self.topic, "score": self.score,
                "candidates": self.candidates}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplyPayload:
        """Parse and check a payload read from another process."""
        try:
            outcome = Outcome(data.get("outcome"))
        except ValueError:
            raise ProtocolError(f"unknown outcome {data.get('outcome')!r}") from None
        item_no = data.get("item_no")
        if item_no is not None and json_int(item_no) is None:
            raise ProtocolError(f"item_no must be a whole number or null, not {item_no!r}")
        score = data.get("score")
        if score is not None and not isinstance(score, int | float):
            raise ProtocolError(f"score must be a number or null, not {score!r}")
        candidates = data.get("candidates") or []
        if not isinstance(candidates, list) or not all(isinstance(c, dict) for c in candidates):
            raise ProtocolError("candidates must be a list of objects")
        entry_id, topic = data.get("entry_id"), data.get("topic")
        return cls(outcome, item_no, str(entry_id) if entry_id is not None else None,
                   float(score) if score is not None else None, candidates,
                   str(topic) if topic else None)


# -- Rasa's Socket.IO channel protocol (what rasa-webchat speaks) ---------------------------

SESSION_REQUEST = "session_request"  # client → server: {session_id?}
SESSION_CONFIRM = "session_confirm"  # server → client: the session id
USER_UTTERED = "user_uttered"  # client → server: {message, session_id}
BOT_UTTERED = "bot_uttered"  # server → client: {text, quick_replies?, attachment?, id, sender}
# Our additions for the help desk (a plain rasa-webchat ignores them).
SYNC = "sync"  # client → server: {after}: ask for the messages after the last one it has
HISTORY = "history"  # server → client: {messages}: every message after `after`, in order
CUSTOMER_ECHO = "customer_echo"  # server → client: the customer's own message, stored, with id
QUEUE_STATUS = "queue_status"  # server → client: {position, expected_wait_seconds}
CHAT_ENDED = "chat_ended"  # server → client: the seat ended the chat; a rating is asked
RATE = "rate"  # client → server: {level 1..5, comment?}
TYPING = "typing"  # either way: {conversation_id?, who}: someone is typing (not stored)
PROTOCOL_ERROR = "protocol_error"  # server → client: {error}: a rejected event, in Chinese

# Seat namespace (/seat): staff, logged in (auth {token}).
SEAT_NAMESPACE = "/seat"
CHAT_QUEUED = "chat_queued"  # server → seats: a conversation waits in a department's queue
CHAT_ASSIGNED = "chat_assigned"  # server → seat: {conversation, history}
ACCEPT = "accept"  # seat → server: {conversation_id}: take a waiting chat from the queue
SEAT_MESSAGE = "seat_message"  # seat → server: {conversation_id, text}
CUSTOMER_MESSAGE = "customer_message"  # server → seat: a message of a chat the seat has
END_CHAT = "end_chat"  # seat → server: {conversation_id, resolved}
PRESENCE = "presence"  # seat → server: {status: online | away}
QUEUES = "queues"  # server → supervisors and seats: waiting chats per department
FORBIDDEN_ATTEMPT = "forbidden_attempt"  # server → supervisors: a reply stopped for a 禁语
TRANSFER = "transfer"  # seat → server: {conversation_id, department? | seat?, note}
NOTE = "note"  # seat → server: {conversation_id, text}: an internal note, never to the customer
INTERNAL_NOTE = "internal_note"  # server → seats: a note on a chat they have
TRANSFER_FLAG = "transfer_flag"  # server → supervisors: a chat transferred more than twice
SEAT_LOADS = "seat_loads"  # server → supervisors: every seat's presence and load
DEPARTMENTS = "departments"  # server → seats: the departments a chat can be transferred to
KB_SEARCH = "kb_search"  # seat → server: {query, item_no?} → ack {candidates with answers}
SAVE_CANDIDATE = "save_candidate"  # seat → server: {conversation_id, question, answer}:
# a seat's good answer becomes a draft entry for the knowledge-base maintainers to review
SLA_WARNING = "sla_warning"  # server → seat, department, supervisors: no reply after 45 s
SLA_BREACH = "sla_breach"  # server → supervisors: no first reply within 60 s (recorded)


def text_field(data: Any, name: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A required, non-empty text field of an event from a browser."""
    if not isinstance(data, dict):
        raise ProtocolError("the event must be an object")
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{name} must be non-empty text")
    if len(value) > limit:
        raise ProtocolError(f"{name} is longer than {limit} characters")
    return value


def json_int(value: Any) -> int | None:
    """`value` when JSON carried a whole number (true and false are not), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class UserUttered:
    message: str
    session_id: str
    title: str | None = None  # a quick reply's title, shown instead of its payload

    @classmethod
    def from_event(cls, data: Any) -> UserUttered:
        """Check a `user_uttered` event from a browser (anything may arrive)."""
        if not isinstance(data, dict):
            raise ProtocolError("user_uttered must be an object {message, session_id}")
        title = text_field(data, "title", 100) if data.get("title") is not None else None
        return cls(text_field(data, "message"), text_field(data, "session_id", 100), title)
