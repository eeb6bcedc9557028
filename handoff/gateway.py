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

import socketio
import uvicorn

from handoff.bot import BotClient
from handoff.customer import CustomerNamespace
from handoff.desk import HelpDesk, ServiceLevels
from handoff.hours import SeatHours
from handoff.seat import SeatNamespace
from handoff.staff import LoginFailed
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


async def read_json(receive: Receive) -> Any:
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if len(body) > MAX_BODY_BYTES:
            raise ValueError("请求内容过大")
        if not event.get("more_body"):
            break
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("请求内容不是有效的 JSON") from None


class HttpApi:
    """The routes besides Socket.IO, declared in one table."""

    def __init__(self, desk: HelpDesk) -> None:
        self.desk = desk
        self.routes = {("GET", "/health"): self.health, ("POST", "/api/login"): self.login}

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        route = self.routes.get((scope.get("method", ""), scope.get("path", "")))
        if route is None:
            await respond(send, 404, {"error": "没有这个地址"})
            return
        try:
            await route(receive, send)
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

    async def health(self, receive: Receive, send: Send) -> None:
        await respond(send, 200, {"status": "ok"})

    async def login(self, receive: Receive, send: Send) -> None:
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
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[],
                               max_http_buffer_size=1_000_000)
    levels = ServiceLevels(SeatHours.parse(settings.seat_hours), settings.sla_warn,
                           settings.sla_breach, settings.seat_grace)
    desk = HelpDesk(KnowledgeBase(settings.db), BotClient(settings.url("rasa")), sio.emit,
                    sio.start_background_task, levels)
    sio.register_namespace(CustomerNamespace(desk))
    sio.register_namespace(SeatNamespace(desk))
    return socketio.ASGIApp(sio, other_asgi_app=HttpApi(desk), static_files=static_files())


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
