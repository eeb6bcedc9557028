"""The gateway's web app: Starlette for HTTP (one route table, each route with the role it
needs, one error handler, templates, static files) with python-socketio in front of it for
/socket.io/, and the security headers around both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from handoff.attachments import AttachmentStore
from handoff.bot import BotClient
from handoff.customer import CustomerNamespace
from handoff.desk import HelpDesk
from handoff.errors import HANDLERS, HttpError
from handoff.gap_clock import GapClock
from handoff.headers import SecurityHeaders
from handoff.hours import SeatHours
from handoff.limits import Limits, SlidingWindow
from handoff.manager import client_manager
from handoff.notify import Notifier
from handoff.seat import SeatNamespace
from handoff.service_level import ServiceLevels, Sweeper
from handoff.staff import Role, StaffDirectory
from handoff.views import attachments, auth, entries, gaps, kb_live, pages, policies, review
from kb.store import KnowledgeBase
from nlu.topics import TOPIC_NAMES
from xiaoshen.secrets import load_or_create
from xiaoshen.settings import Settings

WEB = Path(__file__).with_name("web")
NODE_MODULES = WEB / "node_modules"
SOCKET_IO_CLIENT = NODE_MODULES / "socket.io-client" / "dist" / "socket.io.esm.min.js"
ECHARTS = NODE_MODULES / "echarts" / "dist" / "echarts.min.js"
PUBLIC, STAFF = "public", "staff"  # what a route needs: nobody, any staff, or a Role
KNOWLEDGE = (Role.MAINTAINER, Role.SUPERVISOR)  # who works the gap tasks


def route(path: str, view: Callable[[Request], Awaitable[Response]],
          role: str | tuple[str, ...], methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route whose view runs only for a login with `role`, or one of several roles
    (STAFF: any staff member)."""
    if role == PUBLIC:
        return Route(path, view, methods=list(methods))
    roles = role if isinstance(role, tuple) else (role,)

    async def guarded(request: Request) -> Response:
        staff = auth.staff_of(request)
        if STAFF not in roles and staff.role not in roles:
            raise HttpError(403)
        request.state.staff = staff
        return await view(request)
    return Route(path, guarded, methods=list(methods), name=view.__name__)


def vendor(path: Path) -> Callable[[Request], Awaitable[FileResponse]]:
    """A browser package's file from node_modules."""
    async def view(request: Request) -> FileResponse:
        return FileResponse(path, media_type="text/javascript")
    view.__name__ = path.stem.replace(".", "_")
    return view


ROUTES: list[BaseRoute] = [
    route("/health", pages.health, PUBLIC),
    route("/chat", pages.page("chat.html"), PUBLIC),
    route("/console", pages.page("console.html"), PUBLIC),  # the page logs in itself
    route("/api/login", auth.login, PUBLIC, ("POST",)),
    route("/api/logout", auth.logout, PUBLIC, ("POST",)),
    route("/api/me", auth.me, STAFF),
    # customers upload with their session, seats with their login (checked in the view)
    route("/api/attachments", attachments.upload, PUBLIC, ("POST",)),
    route("/api/attachments/{attachment_id}", attachments.download, PUBLIC),
    route("/gaps", pages.page("gaps.html"), PUBLIC),  # the page logs in itself
    route("/api/items", gaps.items, KNOWLEDGE),
    route("/api/gaps", gaps.list_tasks, KNOWLEDGE),
    route("/api/gaps/counts", gaps.counts, KNOWLEDGE),
    route("/api/gaps/departments", gaps.departments, KNOWLEDGE),
    route("/api/gaps/report", gaps.report, KNOWLEDGE),
    route("/api/gaps/report/download", gaps.download, KNOWLEDGE),
    route("/api/gaps/{task_id}", gaps.show, KNOWLEDGE),
    *(route(f"/api/gaps/{{task_id}}/{change.__name__}", change, KNOWLEDGE, ("POST",))
      for change in (gaps.answer, gaps.publish, gaps.reject, gaps.merge, gaps.assign)),
    route("/kb", pages.page("entries.html"), PUBLIC),  # the pages log in themselves
    route("/kb/review", pages.page("review.html"), PUBLIC),
    route("/kb/policies", pages.page("policies.html"), PUBLIC),
    route("/api/kb/entries", entries.list_entries, KNOWLEDGE),
    route("/api/kb/entries", entries.create, KNOWLEDGE, ("POST",)),
    route("/api/kb/entries/{entry_id}", entries.show, KNOWLEDGE),
    route("/api/kb/entries/{entry_id}", entries.save, KNOWLEDGE, ("POST",)),
    *(route(f"/api/kb/entries/{{entry_id}}/{move.__name__.rstrip('_')}", move, KNOWLEDGE,
            ("POST",))
      for move in (review.submit, review.withdraw, review.approve, review.return_,
                   review.rollback)),
    route("/api/kb/review", review.queue, KNOWLEDGE),
    route("/api/kb/hit-test", kb_live.hit_test, KNOWLEDGE, ("POST",)),
    route("/api/kb/status", kb_live.status, KNOWLEDGE),
    route("/api/kb/policies", policies.list_policies, KNOWLEDGE),
    route("/api/kb/policies", policies.add, KNOWLEDGE, ("POST",)),
    route("/api/kb/policies/{policy_id}/entries", policies.link, KNOWLEDGE, ("POST",)),
    route("/static/vendor/socket.io.esm.min.js", vendor(SOCKET_IO_CLIENT), PUBLIC),
    route("/static/vendor/echarts.min.js", vendor(ECHARTS), PUBLIC),
    Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
]


def allowed_origin(settings: Settings) -> Callable[[str, dict], bool]:
    """Origins that may open a socket: the gateway's own, and the configured sites."""
    def allowed(origin: str, environ: dict) -> bool:
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own or origin in settings.allowed_origins
    return allowed


def create_app(settings: Settings) -> Any:
    """Everything the gateway serves, built from the settings."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=allowed_origin(settings),
                               max_http_buffer_size=1_000_000,
                               client_manager=client_manager(settings.redis_url))
    kb = KnowledgeBase(settings.db)
    levels = ServiceLevels(SeatHours.parse(settings.seat_hours), settings.sla_warn,
                           settings.sla_breach, settings.seat_grace, settings.heartbeat,
                           settings.sweep_interval)
    files = AttachmentStore(kb, settings.db.parent / "attachments")
    bot = BotClient(settings.url("rasa"), settings.url("actions"),
                    secrets=load_or_create(settings))
    desk = HelpDesk(kb, bot,
                    Notifier(sio.emit, files), levels,
                    StaffDirectory(kb, idle_seconds=settings.staff_idle))
    seats = SeatNamespace(desk)
    sio.register_namespace(CustomerNamespace(desk, Limits(
        (SlidingWindow(20, 10), "session"),
        (SlidingWindow(int(settings.address_limit), 10), "address")), settings.session_idle))
    sio.register_namespace(seats)
    sweeper = Sweeper(desk.store, desk.presence, desk.notify, levels, desk.requeue_seat,
                      desk.chat, GapClock(desk.gaps, desk.notify, desk.bot.place_gaps,
                                          settings.session_idle))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(sweeper.run()), asyncio.create_task(seats.keep_alive()),
                 asyncio.create_task(desk.relay.run())]
        yield
        for task in tasks:
            task.cancel()
        sweeper.stop()
        await desk.bot.close()

    web = Starlette(routes=ROUTES, exception_handlers=HANDLERS, lifespan=lifespan,
                    middleware=[Middleware(CORSMiddleware,
                                           allow_origins=list(settings.allowed_origins),
                                           allow_methods=["GET", "POST"],
                                           allow_headers=["content-type",
                                                          "x-xiaoshen-session"])])
    web.state.desk, web.state.attachments, web.state.seats = desk, files, seats
    web.state.templates = Jinja2Templates(directory=WEB / "templates")
    web.state.templates.env.globals["topic_names"] = TOPIC_NAMES  # the editor's choices
    web.state.upload_limits = Limits((SlidingWindow(10, 60), "session"),
                                     (SlidingWindow(10, 60), "address"))
    return SecurityHeaders(socketio.ASGIApp(sio, other_asgi_app=web),
                           settings.allowed_origins)
