"""The cross-process vocabulary: outcomes, the reply payload and socket events."""

import pytest
import yaml

from handoff.protocol import (
    MAX_MESSAGE_CHARS,
    Outcome,
    ProtocolError,
    ReplyPayload,
    UserUttered,
)
from kb.decision import Candidate
from xiaoshen.settings import ROOT


def test_payload_round_trip() -> None:
    payload = ReplyPayload.of(Outcome.ANSWERED, 3, "03-materials", 0.987654,
                              [Candidate(3, "03-materials", "居住证签注要带什么？", 0.91234)])
    data = payload.as_dict()
    candidate = {"item_no": 3, "entry_id": "03-materials", "title": "居住证签注要带什么？",
                 "score": 0.9123}
    assert data == {"outcome": "answered", "item_no": 3, "entry_id": "03-materials",
                    "entry_ids": ["03-materials"], "topic": None, "missing": [],
                    "score": 0.9877, "candidates": [candidate]}
    assert ReplyPayload.from_dict(data) == payload


@pytest.mark.parametrize(("data", "error"), [
    ({"outcome": "maybe"}, "unknown outcome 'maybe'"),
    ({}, "unknown outcome None"),
    ({"outcome": "answered", "item_no": "3"}, "item_no must be a whole number or null"),
    ({"outcome": "answered", "item_no": True}, "item_no must be a whole number or null"),
    ({"outcome": "answered", "score": "high"}, "score must be a number or null"),
    ({"outcome": "clarify", "candidates": "x"}, "candidates must be a list of objects"),
    ({"outcome": "answered", "entry_ids": "03-materials"}, "entry_ids must be a list of"),
    ({"outcome": "answered", "missing": [1]}, "missing must be a list of strings"),
])
def test_malformed_payloads_are_rejected(data, error) -> None:
    with pytest.raises(ProtocolError, match=error):
        ReplyPayload.from_dict(data)


def test_every_outcome_in_the_domain_is_known() -> None:
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    spelled = {variant["custom"]["outcome"] for variants in domain["responses"].values()
               for variant in variants if "custom" in variant}
    assert spelled and spelled <= set(Outcome)


def test_user_uttered_is_checked() -> None:
    assert UserUttered.from_event({"message": "你好", "session_id": "s1"}) == UserUttered(
        "你好", "s1")


@pytest.mark.parametrize(("data", "error"), [
    ("你好", "must be an object"),
    (None, "must be an object"),
    ({"session_id": "s1"}, "message must be non-empty text"),
    ({"message": "  ", "session_id": "s1"}, "message must be non-empty text"),
    ({"message": 5, "session_id": "s1"}, "message must be non-empty text"),
    ({"message": "x" * (MAX_MESSAGE_CHARS + 1), "session_id": "s1"}, "longer than"),
    ({"message": "你好"}, "session_id must be non-empty text"),
])
def test_forged_user_uttered_events_are_rejected(data, error) -> None:
    with pytest.raises(ProtocolError, match=error):
        UserUttered.from_event(data)
