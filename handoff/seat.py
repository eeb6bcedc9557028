"""The seat namespace (/seat): staff log in (auth {token}); agents take and answer chats of
their department, supervisors watch the queues. Every event checks the role."""

from __future__ import annotations

from typing import Any

import socketio

from handoff.bot import BotUnavailable
from handoff.desk import HelpDesk
from handoff.protocol import (
    DEPARTMENTS,
    PROTOCOL_ERROR,
    QUEUES,
    SEAT_LOADS,
    SEAT_NAMESPACE,
    ProtocolError,
    json_int,
    text_field,
)
from handoff.rooms import SUPERVISORS, department_room, seat_room
from handoff.staff import LoginFailed, Role, Staff
from handoff.store import UnknownConversation

PRESENCE_STATES = ("online", "away")


class SeatNamespace(socketio.AsyncNamespace):
    def __init__(self, desk: HelpDesk) -> None:
        super().__init__(SEAT_NAMESPACE)
        self.desk = desk

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            staff = self.desk.staff.session(token or "")
        except LoginFailed as error:
            raise socketio.exceptions.ConnectionRefusedError(f"请先登录（{error}）") from None
        if staff.role not in (Role.AGENT, Role.SUPERVISOR):
            raise socketio.exceptions.ConnectionRefusedError("该账号没有坐席权限")
        await self.save_session(sid, {"staff": staff})
        await self.enter_room(sid, seat_room(staff.name))
        if staff.role == Role.SUPERVISOR:
            await self.enter_room(sid, SUPERVISORS)
            await self.emit(QUEUES, self.desk.queues(), to=sid)
            await self.emit(SEAT_LOADS, self.desk.seat_loads(), to=sid)
            return
        await self.enter_room(sid, department_room(staff.department))
        await self.emit(DEPARTMENTS, self.desk.departments(), to=sid)
        await self.emit(QUEUES, {staff.department: self.desk.store.queue(staff.department)},
                        to=sid)
        self.desk.set_presence(staff, "online")
        await self.desk.fill(staff)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        try:
            staff = (await self.get_session(sid)).get("staff")
        except KeyError:  # refused at connect: no session was ever saved
            return
        if staff and staff.role == Role.AGENT:
            self.desk.set_presence(staff, "offline")
            self.server.start_background_task(self.desk.requeue_if_gone, staff)

    async def _agent(self, sid: str) -> Staff:
        staff = (await self.get_session(sid)).get("staff")
        if staff is None or staff.role != Role.AGENT:
            raise ProtocolError("只有坐席可以接待会话")
        return staff

    async def _guarded(self, sid: str, handler: Any, data: Any) -> Any:
        try:
            return await handler(sid, data)
        except (ProtocolError, UnknownConversation) as error:
            await self.emit(PROTOCOL_ERROR, {"error": str(error)}, to=sid)
            return {"error": str(error)}

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
            if status not in PRESENCE_STATES:
                raise ProtocolError("状态为 online 或 away")
            self.desk.set_presence(staff, status)
            if status == "online":
                await self.desk.fill(staff)
            return {"ok": True}
        return await self._guarded(sid, presence, data)
