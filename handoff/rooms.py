"""Where events go (rooms per conversation, seat and department) and how a stored message
looks to a customer; the forbidden phrases seats must not send."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from handoff.store import Message
from nlu.normalize import normalize
from nlu.segment import read_word_list

FORBIDDEN = Path(__file__).with_name("forbidden_phrases.txt")


@cache
def forbidden_phrases() -> tuple[str, ...]:
    return tuple(normalize(phrase) for phrase in read_word_list(FORBIDDEN))


def forbidden_phrase(text: str) -> str | None:
    """The first forbidden phrase (禁语) in a seat's reply, if any."""
    folded = normalize(text)
    return next((phrase for phrase in forbidden_phrases() if phrase in folded), None)


def conversation_room(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def seat_room(name: str) -> str:
    return f"seat:{name}"


def department_room(department: str) -> str:
    return f"department:{department}"


SUPERVISORS = "supervisors"


def customer_event(message: Message) -> dict[str, Any]:
    """A stored message as Rasa's socket channel sends it (rasa-webchat reads text and
    quick_replies), with our id, sender and kind added."""
    event = {"text": message.extra.get("title") or message.body, "id": message.id,
             "sender": message.sender, "author": message.author, "kind": message.kind,
             "created_at": message.created_at}
    buttons = message.extra.get("buttons") or []
    if buttons:
        event["quick_replies"] = [{"content_type": "text", "title": b["title"],
                                   "payload": b["payload"]} for b in buttons]
    if message.extra.get("outcome"):
        event["outcome"] = message.extra["outcome"]
    if message.kind in ("image", "voice"):  # rasa-webchat shows an image attachment
        source = f"{message.body}?session={message.conversation_id}"
        event["attachment"] = {"type": "image" if message.kind == "image" else "audio",
                               "payload": {"src": source}}
    return event


