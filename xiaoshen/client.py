"""Talk to the running stack through Rasa's REST channel (what `ask` and `chat` use)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from kb.reply import Outcome, ProtocolError, ReplyPayload


class StackUnavailable(Exception):
    """The Rasa server did not answer; `xiaoshen serve` is probably not running."""


@dataclass
class Reply:
    """Everything the bot said for one message, merged from Rasa's separate messages."""

    text: str = ""
    payload: ReplyPayload = field(default_factory=lambda: ReplyPayload(Outcome.FALLBACK))
    buttons: list[dict[str, str]] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        return self.payload.outcome

    @property
    def item_no(self) -> int | None:
        return self.payload.item_no

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, **self.payload.as_dict()}


def merge_messages(messages: list[dict[str, Any]]) -> Reply:
    reply = Reply()
    texts = []
    for message in messages:
        if message.get("text"):
            texts.append(message["text"])
        reply.buttons += message.get("buttons") or []
        custom = message.get("custom") or {}
        if "outcome" in custom:
            try:
                reply.payload = ReplyPayload.from_dict(custom)
            except ProtocolError as error:
                raise StackUnavailable(f"the bot sent a malformed reply ({error})") from None
    reply.text = "\n".join(texts)
    return reply


class ChatClient:
    """One conversation with the bot; a new client is a new conversation."""

    def __init__(self, rasa_url: str, sender: str | None = None, timeout: float = 30.0) -> None:
        self.url = rasa_url + "/webhooks/rest/webhook"
        self.sender = sender or _new_sender()
        self.http = httpx.Client(timeout=timeout)

    def new_conversation(self) -> None:
        self.sender = _new_sender()

    def send(self, text: str) -> Reply:
        try:
            response = self.http.post(self.url, json={"sender": self.sender, "message": text})
            response.raise_for_status()
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise StackUnavailable(f"cannot reach Rasa at {self.url} ({error})") from None
        return merge_messages(response.json())

    def close(self) -> None:
        self.http.close()


def _new_sender() -> str:
    return "cli-" + uuid.uuid4().hex


def ask(text: str, rasa_url: str) -> Reply:
    """Send `text` as the first message of a new conversation."""
    client = ChatClient(rasa_url)
    try:
        return client.send(text)
    finally:
        client.close()
