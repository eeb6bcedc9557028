"""Notifications: every event the desk sends, to the rooms it goes to, in the shape each
client expects. Plain Rasa clients (rasa-webchat) get exactly Rasa's shapes; Xiaoshen's own
page gets the extras (ids, senders, timestamps, outcomes) in a room of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from handoff.attachments import AttachmentStore
from handoff.protocol import BOT_UTTERED, CUSTOMER_ECHO, SEAT_NAMESPACE
from handoff.rooms import SUPERVISORS, conversation_room, department_room, seat_room
from handoff.store import Message

Emit = Callable[..., Awaitable[None]]  # AsyncServer.emit


def rasa_shape(message: Message, src: str | None = None) -> dict[str, Any]:
    """A message as Rasa's socket channel sends it: {text}, {text, quick_replies} or
    {attachment} (rasa-webchat renders only these)."""
    if message.kind == "image":
        return {"attachment": {"type": "image", "payload": {"src": src or message.body}}}
    if message.kind == "voice":  # rasa-webchat plays no audio attachment: a link it renders
        return {"text": f"语音消息：[点击收听]({src or message.body})"}
    event: dict[str, Any] = {"text": message.extra.get("title") or message.body}
    buttons = message.extra.get("buttons") or []
    if buttons:
        event["quick_replies"] = [{"content_type": "text", "title": b["title"],
                                   "payload": b["payload"]} for b in buttons]
    return event


class Notifier:
    def __init__(self, emit: Emit, attachments: AttachmentStore) -> None:
        self.emit = emit
        self.attachments = attachments

    def customer_event(self, message: Message) -> dict[str, Any]:
        """A stored message as Xiaoshen's own chat page gets it: Rasa's shape, plus ours."""
        src = self._src(message)
        event = {**rasa_shape(message, src), "id": message.id, "sender": message.sender,
                 "author": message.author, "kind": message.kind, "body": message.body,
                 "created_at": message.created_at}
        if src:
            event["src"] = src
        if message.extra.get("title"):
            event["title"] = message.extra["title"]
        if message.extra.get("outcome"):
            event["outcome"] = message.extra["outcome"]
        if message.extra.get("key"):  # the page's id of its own message: it stops re-sending
            event["key"] = message.extra["key"]
        if message.extra.get("reply_to"):  # the customer's message this answers
            event["reply_to"] = message.extra["reply_to"]
        return event

    def _src(self, message: Message) -> str | None:
        if message.kind not in ("image", "voice"):
            return None
        return self.attachments.signed_url(message.body)

    async def to_customer(self, message: Message) -> None:
        """A message for the citizen: the bot's, a seat's or the system's."""
        conversation_id = message.conversation_id
        await self.emit(BOT_UTTERED, rasa_shape(message, self._src(message)),
                        room=conversation_room(conversation_id))
        await self.emit(BOT_UTTERED, self.customer_event(message),
                        room=conversation_room(conversation_id, full=True))

    async def echo(self, message: Message) -> None:
        """The citizen's own message, stored, back to their page (Rasa clients show their
        own text themselves)."""
        await self.emit(CUSTOMER_ECHO, self.customer_event(message),
                        room=conversation_room(message.conversation_id, full=True))

    async def customer_page(self, conversation_id: str, event: str, data: Any) -> None:
        """One of our additions (queue status, typing, the end of a chat)."""
        await self.emit(event, data, room=conversation_room(conversation_id, full=True))

    async def seat(self, name: str, event: str, data: Any) -> None:
        await self.emit(event, data, room=seat_room(name), namespace=SEAT_NAMESPACE)

    async def department(self, department: str, event: str, data: Any) -> None:
        await self.emit(event, data, room=department_room(department),
                        namespace=SEAT_NAMESPACE)

    async def supervisors(self, event: str, data: Any) -> None:
        await self.emit(event, data, room=SUPERVISORS, namespace=SEAT_NAMESPACE)
