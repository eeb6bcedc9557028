"""Images and voice messages into a conversation, and back out to the people allowed to see
them: the citizen (by the signed link in their messages), the seat holding the chat, and
supervisors. Permission and quotas are checked before anything is stored."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse

from handoff.attachments import MAX_BYTES, AttachmentRejected
from handoff.errors import HttpError
from handoff.protocol import ProtocolError
from handoff.staff import Role
from handoff.store import UnknownConversation
from handoff.views.auth import staff_of
from handoff.views.body import read_body

TOO_MANY = "上传过于频繁，请稍后再试"


async def upload(request: Request) -> JSONResponse:
    """A customer names their own conversation (X-Xiaoshen-Session); a seat is logged in
    and names the chat it holds (X-Xiaoshen-Conversation)."""
    desk, attachments = request.app.state.desk, request.app.state.attachments
    customer_session = request.headers.get("x-xiaoshen-session", "")
    seat = None if customer_session else staff_of(request)
    conversation_id = customer_session or request.headers.get("x-xiaoshen-conversation", "")
    if seat is not None and seat.role != Role.AGENT:
        raise HttpError(403, "只有坐席可以在会话中发送文件")
    try:
        desk.check_upload(conversation_id, seat)
    except (UnknownConversation, ProtocolError):
        raise HttpError(403, "无权向该会话发送文件") from None
    address = request.client.host if request.client else ""
    if not request.app.state.upload_limits.allow(conversation_id, address):
        raise HttpError(429, TOO_MANY)
    data = await read_body(request, MAX_BYTES + 1)
    try:
        attachment = attachments.add(conversation_id, data,
                                     seat.name if seat else "customer")
    except AttachmentRejected as error:
        raise HttpError(400, str(error)) from None
    if seat is not None:
        message = await desk.seat_attachment(seat, conversation_id, attachment)
    else:
        message = await desk.customer_attachment(conversation_id, attachment)
    return JSONResponse({"id": attachment.id, "url": attachment.url, "kind": attachment.kind,
                         "message_id": message.id, "created_at": message.created_at},
                        status_code=201)


async def download(request: Request) -> FileResponse:
    attachments = request.app.state.attachments
    attachment = attachments.get(request.path_params["attachment_id"])
    if attachment is None:
        raise HttpError(404, "没有这个文件")
    expires, signature = request.query_params.get("exp", ""), request.query_params.get(
        "sig", "")
    if not (signature and attachments.signature_valid(attachment.id, expires, signature)):
        staff = staff_of(request)
        conversation = request.app.state.desk.store.get(attachment.conversation_id)
        holds = staff.role == Role.AGENT and conversation["seat"] == staff.name
        if not (holds or staff.role == Role.SUPERVISOR):
            raise HttpError(403, "无权查看此文件")
    return FileResponse(attachment.path, media_type=attachment.mime,
                        headers={"cache-control": "private, max-age=3600"})
