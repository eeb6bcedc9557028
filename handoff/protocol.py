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
        if item_no is not None and (isinstance(item_no, bool) or not isinstance(item_no, int)):
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
BOT_UTTERED = "bot_uttered"  # server → client: {text, quick_replies?, attachment?}


@dataclass(frozen=True)
class UserUttered:
    message: str
    session_id: str

    @classmethod
    def from_event(cls, data: Any) -> UserUttered:
        """Check a `user_uttered` event from a browser (anything may arrive)."""
        if not isinstance(data, dict):
            raise ProtocolError("user_uttered must be an object {message, session_id}")
        message, session_id = data.get("message"), data.get("session_id")
        if not isinstance(message, str) or not message.strip():
            raise ProtocolError("message must be non-empty text")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ProtocolError(f"message is longer than {MAX_MESSAGE_CHARS} characters")
        if not isinstance(session_id, str) or not session_id.strip():
            raise ProtocolError("session_id must be non-empty text")
        return cls(message, session_id)
