"""The cross-process reply contract, spelled once: what a bot reply did (`Outcome`) and the
custom payload every bot reply carries. A leaf: it imports nothing of Xiaoshen's.

The knowledge base decides outcomes, the action server writes payloads, the REST client, the
evaluation and the gateway read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


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
    # Every entry the answer used, in the order asked (entry_id is the first); the aspects
    # asked that the service lacks (its closest entry was offered instead).
    entry_ids: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, outcome: Outcome, item_no: int | None = None, entry_id: str | None = None,
           score: float | None = None, candidates: Iterable[Ranked] = (),
           topic: str | None = None, entry_ids: Iterable[str] = (),
           missing: Iterable[str] = ()) -> ReplyPayload:
        ids = list(entry_ids) or ([entry_id] if entry_id else [])
        return cls(outcome, item_no, entry_id, round(score, 4) if score is not None else None,
                   [c.as_dict() for c in candidates], topic, ids, list(missing))

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "item_no": self.item_no,
                "entry_id": self.entry_id, "entry_ids": self.entry_ids, "topic": self.topic,
                "missing": self.missing, "score": self.score, "candidates": self.candidates}

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
        entry_ids, missing = strings(data, "entry_ids"), strings(data, "missing")
        if entry_id is not None and not entry_ids:  # a payload from before entry_ids
            entry_ids = [str(entry_id)]
        return cls(outcome, item_no, str(entry_id) if entry_id is not None else None,
                   float(score) if score is not None else None, candidates,
                   str(topic) if topic else None, entry_ids, missing)


def strings(data: Mapping[str, Any], key: str) -> list[str]:
    """A list of strings from a payload (absent: empty)."""
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{key} must be a list of strings")
    return value


def json_int(value: Any) -> int | None:
    """`value` when JSON carried a whole number (true and false are not), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
