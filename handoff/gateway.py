"""The gateway: the one front door for browsers. A python-socketio ASGI server (customers on
"/", staff on "/seat") beside a small HTTP API (health, staff login), served by uvicorn.

    python -m handoff.gateway        (`xiaoshen serve` starts it)
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import socketio
import uvicorn

from handoff.attachments import MAX_BYTES as MAX_ATTACHMENT_BYTES
from handoff.attachments import AttachmentStore
from handoff.bot import BotClient
from handoff.customer import CustomerNamespace
from handoff.desk import HelpDesk, ServiceLevels
from handoff.hours import SeatHours
from handoff.protocol import ProtocolError
from handoff.seat import SeatNamespace
from handoff.staff import LoginFailed, Role
from handoff.store import UnknownConversation
from kb.store import KnowledgeBase
from xiaoshen import settings as settings_module
from xiaoshen.settings import Settings

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
MAX_BODY_BYTES = 10_000


async def respond(send: Send, status: int, body: dict[str, Any]) -> None:
    """One JSON response; every error has the same shape: {"error": "…"}."""
    data = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": data})


async def read_body(receive: Receive, limit: int) -> bytes:
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if len(body) > limit:
            raise ValueError("请求内容过大")
        if not event.get("more_body"):
            return body


async def read_json(receive: Receive) -> Any:
    body = await read_body(receive, MAX_BODY_BYTES)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("请求内容不是有效的 JSON") from None


def query(scope: dict) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(scope.get("query_string", b"").decode(
        "latin-1")).items()}


def header(scope: dict, name: str) -> str:
    wanted = name.lower().encode()
    return next((value.decode("latin-1") for key, value in scope.get("headers", [])
                 if key == wanted), "")


class HttpApi:
    """The routes besides Socket.IO, declared in one table."""

    def __init__(self, desk: HelpDesk, attachments: AttachmentStore) -> None:
        self.desk = desk
        self.attachments = attachments
        # (method, path or path prefix ending in "/") → handler(scope, receive, send)
        self.routes = {("GET", "/health"): self.health, ("POST", "/api/login"): self.login,
                       ("POST", "/api/attachments"): self.upload,
                       ("GET", "/api/attachments/"): self.download}

    def route(self, method: str, path: str) -> Any:
        exact = self.routes.get((method, path))
        if exact:
            return exact
        prefix = path.rsplit("/", 1)[0] + "/"
        return self.routes.get((method, prefix))

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        handler = self.route(scope.get("method", ""), scope.get("path", ""))
        if handler is None:
            await respond(send, 404, {"error": "没有这个地址"})
            return
        try:
            await handler(scope, receive, send)
        except LoginFailed as error:
            await respond(send, 401, {"error": f"请先登录（{error}）"})
        except (ProtocolError, UnknownConversation) as error:
            await respond(send, 403, {"error": str(error)})
        except ValueError as error:
            await respond(send, 400, {"error": str(error)})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await self.desk.bot.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def health(self, scope: dict, receive: Receive, send: Send) -> None:
        await respond(send, 200, {"status": "ok"})

    async def upload(self, scope: dict, receive: Receive, send: Send) -> None:
        """An image or voice message into a conversation: a customer names their own
        (X-Xiaoshen-Session), a seat logs in (Authorization: Bearer …) and names the chat."""
        token = header(scope, "authorization").removeprefix("Bearer ").strip()
        conversation_id = header(scope, "x-xiaoshen-session") or header(
            scope, "x-xiaoshen-conversation")
        self.desk.store.get(conversation_id)
        data = await read_body(receive, MAX_ATTACHMENT_BYTES + 1)
        if token:
            seat = self.desk.staff.session(token)
            attachment = self.attachments.add(conversation_id, data, seat.name)
            sent = await self.desk.seat_attachment(seat, conversation_id, attachment)
            created_at = sent.created_at
        elif header(scope, "x-xiaoshen-session"):
            attachment = self.attachments.add(conversation_id, data, "customer")
            created_at = (await self.desk.customer_attachment(conversation_id, attachment))
        else:
            raise LoginFailed("not logged in")
        await respond(send, 201, {"id": attachment.id, "url": attachment.url,
                                  "kind": attachment.kind, "created_at": created_at})

    async def download(self, scope: dict, receive: Receive, send: Send) -> None:
        """A file, to the conversation's customer (?session=) or to staff (?token=)."""
        attachment = self.attachments.get(scope["path"].rsplit("/", 1)[1])
        if attachment is None:
            await respond(send, 404, {"error": "没有这个文件"})
            return
        asked = query(scope)
        if asked.get("session") != attachment.conversation_id:
            staff = self.desk.staff.session(asked.get("token", ""))
            conversation = self.desk.store.get(attachment.conversation_id)
            if staff.role == Role.AGENT and staff.department != conversation["department"]:
                raise ProtocolError("无权查看此文件")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", attachment.mime.encode()),
                                (b"cache-control", b"private, max-age=3600"),
                                (b"x-content-type-options", b"nosniff")]})
        await send({"type": "http.response.body", "body": attachment.path.read_bytes()})

    async def login(self, scope: dict, receive: Receive, send: Send) -> None:
        data = await read_json(receive)
        name = data.get("name") if isinstance(data, dict) else None
        password = data.get("password") if isinstance(data, dict) else None
        if not isinstance(name, str) or not isinstance(password, str):
            raise ValueError("请输入用户名和密码")
        try:
            token = self.desk.staff.login(name, password)
        except LoginFailed:
            await respond(send, 401, {"error": "用户名或密码错误"})
            return
        staff = self.desk.staff.find(name)
        assert staff is not None
        await respond(send, 200, {"token": token, "name": staff.name, "role": staff.role,
                                  "department": staff.department})


WEB = Path(__file__).with_name("web")
SOCKET_IO_CLIENT = WEB / "node_modules" / "socket.io-client" / "dist" / "socket.io.esm.min.js"
PAGES = {"/chat": "chat.html", "/console": "console.html"}


def static_files() -> dict[str, Any]:
    """The pages, their scripts and styles, and socket.io's own client (installed by npm)."""
    files: dict[str, Any] = {path: {"filename": str(WEB / name), "content_type": "text/html"}
                             for path, name in PAGES.items()}
    files["/static/vendor/socket.io.esm.min.js"] = {"filename": str(SOCKET_IO_CLIENT),
                                                    "content_type": "text/javascript"}
    files["/static"] = str(WEB / "static")
    return files


def create_app(settings: Settings) -> socketio.ASGIApp:
    """Everything the gateway serves, built from the settings."""
    # Several gateway processes share rooms and emits through Redis; one needs nothing.
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[],
                               max_http_buffer_size=1_000_000, client_manager=manager)
    levels = ServiceLevels(SeatHours.parse(settings.seat_hours), settings.sla_warn,
                           settings.sla_breach, settings.seat_grace)
    bot = BotClient(settings.url("rasa"), settings.url("actions"))
    desk = HelpDesk(KnowledgeBase(settings.db), bot, sio.emit, sio.start_background_task, levels)
    sio.register_namespace(CustomerNamespace(desk))
    sio.register_namespace(SeatNamespace(desk))
    attachments = AttachmentStore(desk.kb, settings.db.parent / "attachments")
    return socketio.ASGIApp(sio, other_asgi_app=HttpApi(desk, attachments),
                            static_files=static_files())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(create_app(settings_module.load()), host=args.host, port=args.port,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
