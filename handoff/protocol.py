"""The gateway's wire format, spelled once: the Socket.IO events of Rasa's socket channel
protocol, our additions, and the checks of what browsers send. No I/O here.

The browser scripts spell the same event names (handoff/web/static/events.js; a test keeps
the two in step). The reply contract with the bot is kb/reply.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kb.reply import Outcome, ProtocolError, ReplyPayload, json_int

__all__ = ["Outcome", "ProtocolError", "ReplyPayload", "json_int"]

MAX_MESSAGE_CHARS = 2000  # a long citizen letter fits; a pasted document does not
MESSAGE_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


# -- Rasa's Socket.IO channel protocol (what rasa-webchat speaks) ---------------------------

SESSION_REQUEST = "session_request"  # client → server: {session_id?}
SESSION_CONFIRM = "session_confirm"  # server → client: the session id
USER_UTTERED = "user_uttered"  # client → server: {message, session_id}
BOT_UTTERED = "bot_uttered"  # server → client: {text, quick_replies?} or {attachment}
# Our additions for the help desk, sent only to clients that connect with
# auth {client: "xiaoshen"} (a plain Rasa client gets exactly Rasa's shapes).
XIAOSHEN_CLIENT = "xiaoshen"
SYNC = "sync"  # client → server: {after}: ask for the messages after the last one it has
HISTORY = "history"  # server → client: {messages}: every message after `after`, in order
CUSTOMER_ECHO = "customer_echo"  # server → client: the customer's own message, stored, with id
QUEUE_STATUS = "queue_status"  # server → client: {position, expected_wait_seconds}
CHAT_ENDED = "chat_ended"  # server → client: the seat ended the chat; a rating is asked
RATE = "rate"  # client → server: {level 1..5, comment?}
TYPING = "typing"  # either way: {conversation_id?, who}: someone is typing (not stored)
PROTOCOL_ERROR = "protocol_error"  # server → client: {error}: a rejected event, in Chinese

# Seat namespace (/seat): staff, logged in (the session cookie).
SEAT_NAMESPACE = "/seat"
MY_CHATS = "my_chats"  # server → seat on connect: {chats: [{conversation, history, unread}]}
READ = "read"  # seat → server: {conversation_id, last_id}: the seat has read up to last_id
SESSION_EXPIRED = "session_expired"  # server → staff: {error}: logged out or idle; then closed
CHAT_QUEUED = "chat_queued"  # server → seats: a conversation waits in a department's queue
CHAT_ASSIGNED = "chat_assigned"  # server → seat: {conversation, history, unread}
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
GAP_OVERDUE = "gap_overdue"  # server → supervisors: a gap task passed its due day (marked once)


def text_field(data: Any, name: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A required, non-empty text field of an event from a browser."""
    if not isinstance(data, dict):
        raise ProtocolError("the event must be an object")
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{name} must be non-empty text")
    if len(value) > limit:
        raise ProtocolError(f"{name} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text, nothing we could store
        raise ProtocolError(f"{name} is not valid text") from None
    return value


MAX_MESSAGE_ID = 2**63 - 1  # SQLite's largest integer


def message_id(data: Any, name: str = "after") -> int:
    """A message id from a browser event (0 when absent)."""
    value = data.get(name, 0) if isinstance(data, dict) else 0
    value = json_int(value)
    if value is None or not 0 <= value <= MAX_MESSAGE_ID:
        raise ProtocolError(f"{name} must be a message id (a whole number)")
    return value


@dataclass(frozen=True)
class UserUttered:
    message: str
    session_id: str
    title: str | None = None  # a quick reply's title, shown instead of its payload
    # The page's own id for the message: one re-sent after a dropped connection is stored once.
    key: str | None = None

    @classmethod
    def from_event(cls, data: Any) -> UserUttered:
        """Check a `user_uttered` event from a browser (anything may arrive)."""
        if not isinstance(data, dict):
            raise ProtocolError("user_uttered must be an object {message, session_id}")
        title = text_field(data, "title", 100) if data.get("title") is not None else None
        key = text_field(data, "key", 64) if data.get("key") is not None else None
        if key is not None and not MESSAGE_KEY.fullmatch(key):
            raise ProtocolError("key must be 8 to 64 letters, digits or dashes")
        return cls(text_field(data, "message"), text_field(data, "session_id", 100), title, key)
