"""Staff login, logout and who is logged in. The login is an HttpOnly, SameSite=Strict cookie;
the password check (argon2) runs in a thread, a few at a time, so a burst of logins never
stalls the chats on the event loop."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from handoff.errors import HttpError
from handoff.seat import SESSION_COOKIE, cookie_token
from handoff.staff import LoginFailed, LoginThrottled, Staff
from handoff.views.body import read_json

WRONG = "用户名或密码错误"
THROTTLED = "登录失败次数过多，请15分钟后再试"
HASHING = asyncio.Semaphore(2)  # argon2 at once: about the machine's cores


def staff_of(request: Request) -> Staff:
    """The logged-in staff member, or 401."""
    try:
        return request.app.state.desk.staff.session(
            cookie_token(request.headers.get("cookie", "")))
    except LoginFailed:
        raise HttpError(401) from None


def who(staff: Staff) -> dict:
    return {"name": staff.name, "role": staff.role.value, "department": staff.department}


async def login(request: Request) -> JSONResponse:
    data = await read_json(request)
    name = data.get("name") if isinstance(data, dict) else None
    password = data.get("password") if isinstance(data, dict) else None
    if not isinstance(name, str) or not isinstance(password, str) or not name.strip() or (
            len(name) > 100 or len(password) > 1000):
        raise HttpError(400, "请输入用户名和密码")
    staff = request.app.state.desk.staff
    address = request.client.host if request.client else ""
    try:
        staff.check_throttle(name, address)
    except LoginThrottled:
        raise HttpError(429, THROTTLED) from None
    stored = staff.password_hash(name)
    async with HASHING:
        right = await run_in_threadpool(staff.verify, stored, password)
    if not right:
        staff.failed(name, address)
        raise HttpError(401, WRONG)
    token = staff.open_session(name)
    found = staff.find(name)
    assert found is not None
    response = JSONResponse(who(found))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> JSONResponse:
    token = cookie_token(request.headers.get("cookie", ""))
    request.app.state.desk.staff.logout(token)
    await request.app.state.seats.logged_out(token)  # this gateway's sockets; others' beat
    response = JSONResponse({"ok": True})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def me(request: Request) -> JSONResponse:
    return JSONResponse(who(request.state.staff))
