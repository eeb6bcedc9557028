"""The seat namespace (/seat): staff log in with their session cookie; agents take and answer
chats of their department, supervisors watch the queues. Every event checks the role.

Each gateway heartbeats the seats connected to it (presence) and closes sockets whose login
expired or was revoked.
"""

from __future__ import annotations

import asyncio
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio

from handoff.bot import BotUnavailable
from handoff.desk import HelpDesk
from handoff.presence import STATES
from handoff.protocol import (
    DEPARTMENTS,
    MY_CHATS,
    PROTOCOL_ERROR,
    QUEUES,
    SEAT_LOADS,
    SEAT_NAMESPACE,
    SESSION_EXPIRED,
    ProtocolError,
    json_int,
    message_id,
    text_field,
)
from handoff.rooms import SUPERVISORS, department_room, seat_room
from handoff.staff import LoginFailed, Role, Staff
from handoff.store import UnknownConversation

log = logging.getLogger(__name__)
SESSION_COOKIE = "xiaoshen_staff"
FAILED = "操作未能完成，请稍后再试。"


def cookie_token(header: str) -> str:
    """The staff session token from a Cookie header ("" when there is none)."""
    try:
        cookie = SimpleCookie(header or "")
    except CookieError:
        return ""
    morsel = cookie.get(SESSION_COOKIE)
    return morsel.value if morsel else ""


class SeatNamespace(socketio.AsyncNamespace):
    def __init__(self, desk: HelpDesk) -> None:
        super().__init__(SEAT_NAMESPACE)
        self.desk = desk
        self.logins: dict[str, tuple[Staff, str]] = {}  # sid → (staff, token), this gateway

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        token = cookie_token(environ.get("HTTP_COOKIE", ""))
        try:
            staff = self.desk.staff.session(token)
        except LoginFailed as error:
            raise socketio.exceptions.ConnectionRefusedError(f"请先登录（{error}）") from None
        if staff.role not in (Role.AGENT, Role.SUPERVISOR):
            raise socketio.exceptions.ConnectionRefusedError("该账号没有坐席权限")
        self.logins[sid] = (staff, token)
        await self.save_session(sid, {"staff": staff})
        await self.enter_room(sid, seat_room(staff.name))
        if staff.role == Role.SUPERVISOR:
            await self.enter_room(sid, SUPERVISORS)
            await self.emit(QUEUES, self.desk.queues(), to=sid)
            await self.emit(SEAT_LOADS, self.desk.seat_loads(), to=sid)
            return
        await self.enter_room(sid, department_room(staff.department))
        await self.emit(DEPARTMENTS, self.desk.departments(), to=sid)
        await self.emit(QUEUES, {staff.department: [
            self.desk.chat(c) for c in self.desk.store.queue(staff.department)]}, to=sid)
        await self.emit(MY_CHATS, {"chats": self.desk.held(staff),
                                   "presence": self.desk.presence.chosen(staff.name)}, to=sid)
        await self.desk.seat_connected(staff)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        staff, _ = self.logins.pop(sid, (None, ""))
        if staff and staff.role == Role.AGENT and staff.name not in self.local_seats():
            self.desk.presence.disconnected(staff.name)

    def local_seats(self) -> set[str]:
        return {staff.name for staff, _ in self.logins.values() if staff.role == Role.AGENT}

    async def keep_alive(self) -> None:
        """Every heartbeat: tell the database which seats are connected here, and close
        sockets whose login has expired or was revoked."""
        while True:
            await asyncio.sleep(self.desk.levels.heartbeat)
            try:
                await self._beat()
            except Exception:
                log.exception("seat heartbeat failed")

    async def _beat(self) -> None:
        for sid, (_, token) in list(self.logins.items()):
            try:  # (an open console alone is no activity: only the seat's events are)
                self.desk.staff.session(token, touch=False)
            except LoginFailed as error:
                await self.expire(sid, str(error))
        self.desk.presence.heartbeat(self.local_seats())

    async def expire(self, sid: str, reason: str) -> None:
        await self.emit(SESSION_EXPIRED, {"error": f"登录已失效，请重新登录（{reason}）"}, to=sid)
        await self.disconnect(sid)

    async def logged_out(self, token: str) -> None:
        """A logout on this gateway: close that login's sockets here."""
        for sid, (_, held) in list(self.logins.items()):
            if held == token:
                await self.expire(sid, "已退出登录")

    async def _agent(self, sid: str) -> Staff:
        staff = (await self.get_session(sid)).get("staff")
        if staff is None or staff.role != Role.AGENT:
            raise ProtocolError("只有坐席可以接待会话")
        return staff

    async def _guarded(self, sid: str, handler: Any, data: Any) -> Any:
        try:
            self.desk.staff.session(self.logins[sid][1])  # still logged in; and active
        except (KeyError, LoginFailed) as error:
            await self.expire(sid, str(error))
            return {"error": "登录已失效，请重新登录"}
        try:
            return await handler(sid, data)
        except (ProtocolError, UnknownConversation) as error:
            await self.emit(PROTOCOL_ERROR, {"error": str(error)}, to=sid)
            return {"error": str(error)}
        except Exception:  # never a traceback to a browser; the log has it
            log.exception("seat event failed")
            return {"error": FAILED}

    async def on_accept(self, sid: str, data: Any = None) -> Any:
        async def accept(sid: str, data: Any) -> dict:
            await self.desk.accept(await self._agent(sid), text_field(data, "conversation_id"))
            return {"ok": True}
        return await self._guarded(sid, accept, data)

    async def on_seat_message(self, sid: str, data: Any = None) -> Any:
        async def send(sid: str, data: Any) -> dict:
            message = await self.desk.from_seat(await self._agent(sid),
                                                text_field(data, "conversation_id"),
                                                text_field(data, "text"))
            return {"ok": True, "id": message.id, "created_at": message.created_at}
        return await self._guarded(sid, send, data)

    async def on_read(self, sid: str, data: Any = None) -> Any:
        async def read(sid: str, data: Any) -> dict:
            self.desk.mark_read(await self._agent(sid), text_field(data, "conversation_id"),
                                message_id(data, "last_id"))
            return {"ok": True}
        return await self._guarded(sid, read, data)

    async def on_end_chat(self, sid: str, data: Any = None) -> Any:
        async def end(sid: str, data: Any) -> dict:
            await self.desk.end(await self._agent(sid), text_field(data, "conversation_id"),
                                bool(data.get("resolved")))
            return {"ok": True}
        return await self._guarded(sid, end, data)

    async def on_transfer(self, sid: str, data: Any = None) -> Any:
        async def transfer(sid: str, data: Any) -> dict:
            department = data.get("department") if isinstance(data, dict) else None
            to_seat = data.get("seat") if isinstance(data, dict) else None
            await self.desk.transfer(await self._agent(sid), text_field(data, "conversation_id"),
                                     text_field(data, "note", 500),
                                     department if isinstance(department, str) else None,
                                     to_seat if isinstance(to_seat, str) else None)
            return {"ok": True}
        return await self._guarded(sid, transfer, data)

    async def on_note(self, sid: str, data: Any = None) -> Any:
        async def note(sid: str, data: Any) -> dict:
            message = await self.desk.note(await self._agent(sid),
                                           text_field(data, "conversation_id"),
                                           text_field(data, "text"))
            return {"ok": True, "id": message.id, "created_at": message.created_at}
        return await self._guarded(sid, note, data)

    async def on_kb_search(self, sid: str, data: Any = None) -> Any:
        async def search(sid: str, data: Any) -> dict:
            await self._agent(sid)
            query = text_field(data, "query", 500)
            try:
                return {"candidates": await self.desk.bot.search_kb(
                    query, json_int(data.get("item_no")))}
            except BotUnavailable:
                raise ProtocolError("知识库暂时无法检索，请稍后再试") from None
        return await self._guarded(sid, search, data)

    async def on_save_candidate(self, sid: str, data: Any = None) -> Any:
        async def save(sid: str, data: Any) -> dict:
            entry_id = self.desk.save_candidate(await self._agent(sid),
                                                text_field(data, "conversation_id"),
                                                text_field(data, "question", 500),
                                                text_field(data, "answer"))
            return {"ok": True, "entry_id": entry_id}
        return await self._guarded(sid, save, data)

    async def on_typing(self, sid: str, data: Any = None) -> Any:
        async def typing(sid: str, data: Any) -> dict:
            await self.desk.seat_typing(await self._agent(sid),
                                        text_field(data, "conversation_id"))
            return {"ok": True}
        return await self._guarded(sid, typing, data)

    async def on_presence(self, sid: str, data: Any = None) -> Any:
        async def presence(sid: str, data: Any) -> dict:
            staff, status = await self._agent(sid), text_field(data, "status", 10)
            if status not in STATES:
                raise ProtocolError("状态为 online 或 away")
            self.desk.set_presence(staff, status)
            if status == "online":
                await self.desk.fill(staff)
            return {"ok": True}
        return await self._guarded(sid, presence, data)
