"""The customer namespace: Rasa's Socket.IO channel protocol (what rasa-webchat speaks), plus
re-sync after a reconnect, queue status and the rating at the end of a human chat."""

from __future__ import annotations

import re
import time
import uuid
from collections import deque
from typing import Any

import socketio

from handoff.desk import HelpDesk
from handoff.protocol import (
    PROTOCOL_ERROR,
    SESSION_CONFIRM,
    ProtocolError,
    UserUttered,
    json_int,
    text_field,
)
from handoff.rooms import conversation_room
from handoff.store import UnknownConversation

# Like Rasa's socket channel, a client may bring its own session id (rasa-webchat does);
# ours are 32 random hex digits, which nobody else can guess to resume.
SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
RATE_WINDOW_SECONDS = 10.0
RATE_LIMIT = 20  # messages per window and connection: more than a person types or taps
TOO_FAST = "您发送得太快了，请稍后再试。"


class CustomerNamespace(socketio.AsyncNamespace):
    def __init__(self, desk: HelpDesk, namespace: str = "/") -> None:
        super().__init__(namespace)
        self.desk = desk
        self.recent: dict[str, deque[float]] = {}

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        self.recent[sid] = deque()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.recent.pop(sid, None)

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        wanted = data.get("session_id") if isinstance(data, dict) else None
        conversation_id = wanted if isinstance(wanted, str) and SESSION_ID.match(wanted) else (
            uuid.uuid4().hex)
        self.desk.store.open(conversation_id)
        await self.save_session(sid, {"conversation_id": conversation_id})
        await self.enter_room(sid, conversation_room(conversation_id))
        await self.emit(SESSION_CONFIRM, conversation_id, to=sid)

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._user_uttered, data)

    async def on_sync(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._sync, data)

    async def on_typing(self, sid: str, data: Any = None) -> None:
        async def typing(sid: str, data: Any) -> None:
            await self.desk.customer_typing(await self._own_conversation(sid))
        await self._guarded(sid, typing, data)

    async def on_rate(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._rate, data)

    async def _guarded(self, sid: str, handler: Any, data: Any) -> None:
        """Run a handler; a bad event gets one plain error back and changes nothing."""
        try:
            await handler(sid, data)
        except (ProtocolError, UnknownConversation) as error:
            await self.emit(PROTOCOL_ERROR, {"error": str(error)}, to=sid)

    async def _own_conversation(self, sid: str) -> str:
        session = await self.get_session(sid)
        if not session.get("conversation_id"):
            raise ProtocolError("请先发送 session_request 建立会话")
        return session["conversation_id"]

    async def _user_uttered(self, sid: str, data: Any) -> None:
        conversation_id = await self._own_conversation(sid)
        event = UserUttered.from_event(data)
        if event.session_id != conversation_id:  # a customer writes only to their own
            raise ProtocolError("只能在自己的会话中发送消息")
        self._throttle(sid)
        await self.desk.from_customer(conversation_id, event.message, event.title)

    def _throttle(self, sid: str) -> None:
        now, recent = time.monotonic(), self.recent.setdefault(sid, deque())
        while recent and now - recent[0] > RATE_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= RATE_LIMIT:
            raise ProtocolError(TOO_FAST)
        recent.append(now)

    async def _sync(self, sid: str, data: Any) -> None:
        conversation_id = await self._own_conversation(sid)
        after = data.get("after", 0) if isinstance(data, dict) else 0
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ProtocolError("after must be a message id (a whole number)")
        messages = [m.as_event() for m in self.desk.store.messages(conversation_id, after)]
        await self.emit("history", {"messages": messages}, to=sid)

    async def _rate(self, sid: str, data: Any) -> None:
        conversation_id = await self._own_conversation(sid)
        level = json_int(data.get("level")) if isinstance(data, dict) else None
        if level is None or not 1 <= level <= 5:
            raise ProtocolError("评价为1到5分")
        comment = text_field(data, "comment", 500) if data.get("comment") else ""
        await self.desk.rate(conversation_id, level, comment)
