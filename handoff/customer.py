"""The customer namespace: Rasa's Socket.IO channel protocol (what rasa-webchat speaks), plus,
for Xiaoshen's own page, re-sync after a reconnect, queue status and the rating at the end of
a human chat."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import socketio

from handoff.desk import HelpDesk
from handoff.limits import Limits
from handoff.protocol import (
    HISTORY,
    PROTOCOL_ERROR,
    SESSION_CONFIRM,
    XIAOSHEN_CLIENT,
    ProtocolError,
    UserUttered,
    json_int,
    message_id,
    text_field,
)
from handoff.rooms import conversation_room
from handoff.store import UnknownConversation

log = logging.getLogger(__name__)

# Ids this server issues (uuid4 hex): only such an id, of a live conversation, is resumed.
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
TOO_FAST = "您发送得太快了，请稍后再试。"
FAILED = "请求未能处理，请稍后再试。"


def client_address(environ: dict) -> str:
    """The peer's address as the ASGI server saw it (the citizen's behind a proxy listed in
    XIAOSHEN_TRUSTED_PROXIES)."""
    scope = environ.get("asgi.scope") or {}
    client = scope.get("client") or (environ.get("REMOTE_ADDR"), None)
    return str(client[0] or "")


class CustomerNamespace(socketio.AsyncNamespace):
    def __init__(self, desk: HelpDesk, limits: Limits, idle_seconds: float,
                 namespace: str = "/") -> None:
        super().__init__(namespace)
        self.desk = desk
        self.limits = limits
        self.idle_seconds = idle_seconds

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        full = isinstance(auth, dict) and auth.get("client") == XIAOSHEN_CLIENT
        await self.save_session(sid, {"full": full, "address": client_address(environ)})

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._session_request, data)

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._user_uttered, data)

    async def on_sync(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._sync, data)

    async def on_typing(self, sid: str, data: Any = None) -> None:
        async def typing(sid: str, data: Any) -> None:
            await self.desk.customer_typing((await self._own_conversation(sid))[0])
        await self._guarded(sid, typing, data)

    async def on_rate(self, sid: str, data: Any = None) -> None:
        await self._guarded(sid, self._rate, data)

    async def _guarded(self, sid: str, handler: Any, data: Any) -> None:
        """Run a handler; a bad event gets one plain error back and changes nothing."""
        try:
            await handler(sid, data)
        except (ProtocolError, UnknownConversation) as error:
            await self.emit(PROTOCOL_ERROR, {"error": str(error)}, to=sid)
        except Exception:  # never a traceback to a browser; the log has it
            log.exception("customer event failed")
            await self.emit(PROTOCOL_ERROR, {"error": FAILED}, to=sid)

    async def _session_request(self, sid: str, data: Any) -> None:
        wanted = data.get("session_id") if isinstance(data, dict) else None
        if not (isinstance(wanted, str) and SESSION_ID.match(wanted)
                and self.desk.store.resumable(wanted, self.idle_seconds)):
            wanted = uuid.uuid4().hex
        self.desk.store.open(wanted)
        session = await self.get_session(sid)
        previous = session.get("conversation_id")
        if previous and previous != wanted:  # one conversation per socket
            await self.leave_room(sid, conversation_room(previous, session["full"]))
        session["conversation_id"] = wanted
        await self.save_session(sid, session)
        await self.enter_room(sid, conversation_room(wanted, session["full"]))
        await self.emit(SESSION_CONFIRM, wanted, to=sid)

    async def _own_conversation(self, sid: str) -> tuple[str, dict[str, Any]]:
        session = await self.get_session(sid)
        if not session.get("conversation_id"):
            raise ProtocolError("请先发送 session_request 建立会话")
        return session["conversation_id"], session

    async def _user_uttered(self, sid: str, data: Any) -> None:
        conversation_id, session = await self._own_conversation(sid)
        if isinstance(data, dict) and "message" not in data:
            return  # rasa-webchat's opening event (no initPayload set): nothing was said
        event = UserUttered.from_event(data)
        if event.session_id != conversation_id:  # a customer writes only to their own
            raise ProtocolError("只能在自己的会话中发送消息")
        if not self.limits.allow(conversation_id, session["address"]):
            raise ProtocolError(TOO_FAST)
        await self.desk.from_customer(conversation_id, event.message, event.title, event.key)

    async def _sync(self, sid: str, data: Any) -> None:
        conversation_id, _ = await self._own_conversation(sid)
        after = message_id(data)
        messages = [self.desk.notify.customer_event(m)
                    for m in self.desk.store.messages(conversation_id, after)]
        await self.emit(HISTORY, {"messages": messages}, to=sid)

    async def _rate(self, sid: str, data: Any) -> None:
        conversation_id, _ = await self._own_conversation(sid)
        level = json_int(data.get("level")) if isinstance(data, dict) else None
        if level is None or not 1 <= level <= 5:
            raise ProtocolError("评价为1到5分")
        comment = text_field(data, "comment", 500) if data.get("comment") else ""
        await self.desk.rate(conversation_id, level, comment)
