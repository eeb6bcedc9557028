"""Talk to the running stack through Rasa's REST channel (what `ask` and `chat` use)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from xiaoshen import settings


class StackUnavailable(Exception):
    """The Rasa server did not answer; `xiaoshen serve` is probably not running."""


@dataclass
class Reply:
    """Everything the bot said for one message, merged from Rasa's separate messages."""

    text: str = ""
    outcome: str = "fallback"
    item_no: int | None = None
    entry_id: str | None = None
    score: float | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "outcome": self.outcome, "item_no": self.item_no,
                "entry_id": self.entry_id, "score": self.score, "candidates": self.candidates}


def merge_messages(messages: list[dict[str, Any]]) -> Reply:
    reply = Reply()
    texts = []
    for message in messages:
        if message.get("text"):
            texts.append(message["text"])
        reply.buttons += message.get("buttons") or []
        custom = message.get("custom") or {}
        if "outcome" in custom:
            reply.outcome = custom["outcome"]
            reply.item_no = custom.get("item_no")
            reply.entry_id = custom.get("entry_id")
            reply.score = custom.get("score")
            reply.candidates = custom.get("candidates") or []
    reply.text = "\n".join(texts)
    return reply


class ChatClient:
    """One conversation with the bot; a new client is a new conversation."""

    def __init__(self, base_url: str | None = None, sender: str | None = None,
                 timeout: float = 30.0) -> None:
        self.url = (base_url or settings.url("rasa")) + "/webhooks/rest/webhook"
        self.sender = sender or "cli-" + uuid.uuid4().hex
        self.http = httpx.Client(timeout=timeout)

    def send(self, text: str) -> Reply:
        try:
            response = self.http.post(self.url, json={"sender": self.sender, "message": text})
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise StackUnavailable(f"cannot reach Rasa at {self.url} ({error})") from None
        return merge_messages(response.json())

    def close(self) -> None:
        self.http.close()


def ask(text: str, base_url: str | None = None) -> Reply:
    """Send `text` as the first message of a new conversation."""
    client = ChatClient(base_url)
    try:
        return client.send(text)
    finally:
        client.close()
