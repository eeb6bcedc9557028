"""The doors (issue 11), locked: each hole a probe of the running gateway found, as a test
through real Socket.IO clients and real HTTP against the running stack.

Clients meant to be other people leave from other loopback addresses (all of 127.0.0.0/8 is
this machine, and the gateway sees each as a client address of its own), so a limit per
address meets exactly the clients it is meant for, and no test's flood or failed logins slow
another test: each test has its own addresses, noted where it is used.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import pytest
import socketio

from handoff.staff import StaffDirectory
from tests.handoff import test_gateway
from tests.handoff.test_gateway import (
    PASSWORD,
    WAIT,
    Peer,
    customer,
    drain,
    escalated,
    new_seat,
    say,
    seat_peer,
)

gateway = test_gateway.gateway  # the fixtures: the running stack's gateway URL, its staff
staff = test_gateway.staff

pytestmark = pytest.mark.stack
COOKIE = "xiaoshen_staff"
TOO_FAST = "您发送得太快了，请稍后再试。"
BOT_DOWN = "小申暂时无法回复"
WRONG_LOGIN = {"error": "用户名或密码错误"}
LOCKED_OUT = {"error": "登录失败次数过多，请15分钟后再试"}
SERVER_ID = re.compile(r"[0-9a-f]{32}")


def loopback(host: int) -> str:
    """Another client address on this machine: 127.0.0.<host>."""
    return f"127.0.0.{host}"


def http_from(address: str) -> httpx.Client:
    """An HTTP client whose connections leave from `address`."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=WAIT)


async def customer_from(url: str, address: str, session_id: str | None = None,
                        headers: dict[str, str] | None = None) -> tuple[Peer, str]:
    """A customer on Xiaoshen's own page (auth {client: "xiaoshen"}) connecting from
    `address`."""
    peer = Peer()
    # engine.io makes its aiohttp session with this (its `http_session` option, as a factory)
    peer.client.eio.http_factory = lambda: aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0)))
    await peer.client.connect(url, transports=["websocket"], auth={"client": "xiaoshen"},
                              headers=headers or {})
    await peer.client.emit("session_request", {"session_id": session_id})
    return peer, await peer.next("session_confirm")


def log_in(url: str, name: str, address: str = "127.0.0.1") -> str:
    """The session cookie's value for a fresh login of `name`."""
    with http_from(address) as http:
        response = http.post(f"{url}/api/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.cookies[COOKIE]


def with_cookie(cookie: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={cookie}"}


async def seat_with(url: str, cookie: str) -> Peer:
    """A console's /seat socket, logged in by the cookie sent with the handshake."""
    peer = Peer()
    await peer.client.connect(url, namespaces=["/seat"], transports=["websocket"],
                              headers=with_cookie(cookie))
    return peer


async def closed(seat: Peer) -> None:
    """Wait until the server has disconnected the seat's /seat namespace."""
    async def wait() -> None:
        while "/seat" in seat.client.namespaces:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(wait(), WAIT)


async def settled(count: Callable[[], int], total: int) -> None:
    """Wait until `count()` reaches `total` (every event sent has had its answer)."""
    async def wait() -> None:
        while count() < total:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(wait(), WAIT * 2)


def received(peers: list[Peer], event: str) -> int:
    return sum(peer.queue(event).qsize() for peer in peers)


async def close(*peers: Peer) -> None:
    for peer in peers:
        await peer.client.disconnect()


# -- message limits: per session and per address, not per socket ---------------------------

def test_five_sockets_on_one_session_are_limited_like_one(gateway) -> None:
    """(From 127.0.0.3.) 5 sockets × 20 messages on one session, sent within a second: 20
    processed, as from one socket."""
    async def scenario() -> None:
        first, session = await customer_from(gateway, loopback(3))
        peers = [first]
        for _ in range(4):
            peer, resumed = await customer_from(gateway, loopback(3), session)
            assert resumed == session
            peers.append(peer)
        await asyncio.gather(*(say(peer, session, f"你好{n}") for peer in peers
                               for n in range(20)))
        # Every message is either processed (its echo reaches the first socket, in the
        # session's room) or refused (protocol_error to the socket that sent it).
        def answered() -> int:
            return received([first], "customer_echo") + received(peers, "protocol_error")

        await settled(answered, 100)
        processed = received([first], "customer_echo")
        assert processed == 20, f"{processed} of 100 messages processed"
        assert {e["error"] for p in peers for e in drain(p.queue("protocol_error"))} == {
            TOO_FAST}
        await close(*peers)

    asyncio.run(scenario())


def test_a_flood_from_one_address_is_limited_and_others_still_get_real_answers(
        gateway) -> None:
    """(Flood from 127.0.0.4, each socket claiming another address in X-Forwarded-For,
    which must not be believed; the other customer from 127.0.0.5.) 20 sockets × 20
    messages within a second or two: 60 processed; another customer is answered."""
    async def scenario() -> None:
        flood = [await customer_from(gateway, loopback(4),
                                     headers={"X-Forwarded-For": f"10.0.0.{n}"})
                 for n in range(20)]
        other, other_session = await customer_from(gateway, loopback(5))
        await asyncio.gather(*(say(peer, session, f"你好{n}") for peer, session in flood
                               for n in range(20)))
        await say(other, other_session, "居住证签注要带什么材料")
        peers = [peer for peer, _ in flood]
        await settled(lambda: received(peers, "customer_echo") + received(
            peers, "protocol_error"), 400)
        processed = received(peers, "customer_echo")
        assert processed == 60, f"{processed} of 400 messages processed"
        assert {e["error"] for p in peers for e in drain(p.queue("protocol_error"))} == {
            TOO_FAST}
        reply = await other.until("bot_uttered", lambda d: d.get("sender") == "bot"
                                  or BOT_DOWN in d.get("text", ""))
        assert BOT_DOWN not in reply["text"]
        assert reply["outcome"] == "answered" and "居住证" in reply["text"]
        assert other.queue("protocol_error").empty()
        await close(*peers, other)

    asyncio.run(scenario())


def test_x_forwarded_for_is_not_believed_by_default(gateway) -> None:
    """(From 127.0.0.1, the one address uvicorn believes X-Forwarded-For from unless told
    otherwise.) 4 sockets × 20 messages, each socket claiming another address: together they
    get the one address's 60, not 80; then the window is left to drain for the next tests."""
    async def scenario() -> None:
        flood = [await customer_from(gateway, "127.0.0.1",
                                     headers={"X-Forwarded-For": f"10.2.0.{n}"})
                 for n in range(4)]
        await asyncio.gather(*(say(peer, session, f"你好{n}") for peer, session in flood
                               for n in range(20)))
        peers = [peer for peer, _ in flood]
        await settled(lambda: received(peers, "customer_echo") + received(
            peers, "protocol_error"), 80)
        processed = received(peers, "customer_echo")
        await close(*peers)
        await asyncio.sleep(10)  # 127.0.0.1's window empties before the next test
        assert processed <= 60, f"{processed} of 80 messages processed"

    asyncio.run(scenario())


# -- login -------------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_name_even_for_the_right_one(gateway, staff) -> None:
    """(From 127.0.0.40, then 127.0.0.41: the lock is on the name, wherever from.)"""
    name = new_seat(staff, "市税务局")
    with http_from(loopback(40)) as http:
        for _ in range(5):
            wrong = http.post(f"{gateway}/api/login", json={"name": name, "password": "guess"})
            assert (wrong.status_code, wrong.json()) == (401, WRONG_LOGIN)
        right = http.post(f"{gateway}/api/login", json={"name": name, "password": PASSWORD})
        assert (right.status_code, right.json()) == (429, LOCKED_OUT)
        assert COOKIE not in right.cookies
    with http_from(loopback(41)) as http:
        elsewhere = http.post(f"{gateway}/api/login", json={"name": name, "password": PASSWORD})
        assert (elsewhere.status_code, elsewhere.json()) == (429, LOCKED_OUT)


def test_twenty_failed_logins_from_one_address_lock_that_address(gateway, staff) -> None:
    """(From 127.0.0.42, each attempt claiming another address in X-Forwarded-For, which must
    not be believed; then 127.0.0.43.) 20 failures for 20 names; then even a right login from
    that address is refused, while the same login from another address works."""
    name = new_seat(staff, "市税务局")
    with http_from(loopback(42)) as http:
        for number in range(20):
            failed = http.post(f"{gateway}/api/login",
                               json={"name": f"nobody-{uuid.uuid4().hex[:8]}", "password": "x"},
                               headers={"X-Forwarded-For": f"10.1.0.{number}"})
            assert failed.status_code == 401
        right = http.post(f"{gateway}/api/login", json={"name": name, "password": PASSWORD})
        assert (right.status_code, right.json()) == (429, LOCKED_OUT)
    with http_from(loopback(43)) as http:
        assert http.post(f"{gateway}/api/login",
                         json={"name": name, "password": PASSWORD}).status_code == 200


def test_unknown_and_known_names_fail_alike(gateway, staff) -> None:
    """(From 127.0.0.44.) Same status, body and headers; equal time is measured in
    bench/login_timing.py, not asserted here."""
    name = new_seat(staff, "市税务局")
    with http_from(loopback(44)) as http:
        known = http.post(f"{gateway}/api/login", json={"name": name, "password": "guess"})
        unknown = http.post(f"{gateway}/api/login",
                            json={"name": f"nobody-{uuid.uuid4().hex[:8]}", "password": "guess"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (
        401, WRONG_LOGIN)
    assert set(known.headers) - {"date"} == set(unknown.headers) - {"date"}


def test_a_login_answers_with_an_httponly_cookie_and_no_token(gateway, staff) -> None:
    name = new_seat(staff, "市税务局")
    response = httpx.post(f"{gateway}/api/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json() == {"name": name, "role": "agent", "department": "市税务局"}
    [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE)]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    me = httpx.get(f"{gateway}/api/me", headers=with_cookie(response.cookies[COOKIE]))
    assert (me.status_code, me.json()) == (200, response.json())
    assert httpx.get(f"{gateway}/api/me").status_code == 401


def test_logout_revokes_the_cookie_and_closes_the_open_console(gateway, staff) -> None:
    name = new_seat(staff, "市税务局")
    cookie = log_in(gateway, name)

    async def scenario() -> None:
        seat = await seat_with(gateway, cookie)
        await seat.next("departments")
        async with httpx.AsyncClient() as http:
            out = await http.post(f"{gateway}/api/logout", headers=with_cookie(cookie))
        assert (out.status_code, out.json()) == (200, {"ok": True})
        [cleared] = [c for c in out.headers.get_list("set-cookie") if c.startswith(COOKIE)]
        assert "max-age=0" in cleared.lower() or "1970" in cleared
        expired = await seat.next("session_expired")
        assert expired["error"]
        await closed(seat)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await seat_with(gateway, cookie)

    asyncio.run(scenario())
    assert httpx.get(f"{gateway}/api/me", headers=with_cookie(cookie)).status_code == 401


def test_an_open_console_is_closed_when_its_login_expires(gateway, staff, stack_env) -> None:
    """The login's times set 13 hours back in the database (past its 12 h and its idle
    limit) instead of waiting: the next heartbeat closes the socket."""
    name = new_seat(staff, "市税务局")
    cookie = log_in(gateway, name)

    async def scenario() -> None:
        seat = await seat_with(gateway, cookie)
        await seat.next("departments")
        set_back(stack_env["XIAOSHEN_DB"], "staff_sessions", "user", name, hours=13,
                 keep=("revoked_at",))
        assert (await seat.next("session_expired"))["error"]
        await closed(seat)

    asyncio.run(scenario())
    assert httpx.get(f"{gateway}/api/me", headers=with_cookie(cookie)).status_code == 401


# -- attachments ------------------------------------------------------------------------------

def tiny_png(width: int = 2, height: int = 2) -> bytes:
    from tests.web.test_browser import tiny_png as png

    return png(width, height)


async def held_chat(gateway: str, staff: StaffDirectory) -> tuple[Peer, str, Peer, str, str]:
    """A customer's chat taken by a fresh seat of 市公安局, which logs in by cookie:
    (customer, conversation id, seat socket, seat name, seat cookie)."""
    name = new_seat(staff, "市公安局")
    cookie = log_in(gateway, name)
    seat = await seat_with(gateway, cookie)
    peer, session = await escalated(gateway)
    await seat.until("chat_assigned", lambda d: d["conversation"]["id"] == session)
    return peer, session, seat, name, cookie


def test_only_the_seat_holding_the_chat_and_supervisors_open_an_attachment(gateway,
                                                                           staff) -> None:
    """(Uploads from 127.0.0.20.)"""
    async def scenario() -> None:
        peer, session, seat, _, holder = await held_chat(gateway, staff)
        with http_from(loopback(20)) as http:
            sent = http.post(f"{gateway}/api/attachments", content=tiny_png(),
                             headers={"X-Xiaoshen-Session": session})
        assert sent.status_code == 201, sent.text
        url = f"{gateway}{sent.json()['url']}"

        maintainer = f"kb-{uuid.uuid4().hex[:6]}"
        staff.add(maintainer, "maintainer", PASSWORD)
        boss = f"boss-{uuid.uuid4().hex[:6]}"
        staff.add(boss, "supervisor", PASSWORD)
        refused = {"maintainer": log_in(gateway, maintainer),
                   "another department's seat": log_in(gateway, new_seat(staff, "市税务局")),
                   "another seat of the department": log_in(gateway, new_seat(staff, "市公安局"))}
        for who, cookie in refused.items():
            response = httpx.get(url, headers=with_cookie(cookie))
            assert response.status_code in (401, 403), who
            assert response.content != tiny_png(), who
        for cookie in (holder, log_in(gateway, boss)):
            response = httpx.get(url, headers=with_cookie(cookie))
            assert (response.status_code, response.content) == (200, tiny_png())
        # and the customer, by the signed link in their own message
        echo = await peer.until("customer_echo", lambda d: d["kind"] == "image")
        link = echo["attachment"]["payload"]["src"]
        assert (httpx.get(f"{gateway}{link}").content) == tiny_png()
        await close(seat, peer)

    asyncio.run(scenario())


def test_no_token_or_session_in_a_url_opens_an_attachment(gateway, staff) -> None:
    """(Uploads from 127.0.0.21.) Only the cookie (staff) or the signed link (customer)."""
    async def scenario() -> None:
        peer, session, seat, _, holder = await held_chat(gateway, staff)
        with http_from(loopback(21)) as http:
            sent = http.post(f"{gateway}/api/attachments", content=tiny_png(),
                             headers={"X-Xiaoshen-Session": session})
        assert sent.status_code == 201, sent.text
        url = f"{gateway}{sent.json()['url']}"
        for params in ({"token": holder}, {"session": session}):
            assert httpx.get(url, params=params).status_code in (401, 403), params
        bearer = httpx.get(url, headers={"Authorization": f"Bearer {holder}"})
        assert bearer.status_code in (401, 403)
        assert httpx.get(url, headers=with_cookie(holder)).status_code == 200
        await close(seat, peer)

    asyncio.run(scenario())


def rows(db: str, table: str, where: str = "1", args: list | None = None) -> int:
    """How many rows of `table` match (none while the table does not exist yet)."""
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}",
                                args or []).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def stored_attachments(db: str) -> tuple[int, set[str]]:
    """Rows in `attachments` and files in the attachments directory beside the database."""
    directory = Path(db).parent / "attachments"
    files = {p.name for p in directory.iterdir()} if directory.is_dir() else set()
    return rows(db, "attachments"), files


def test_a_refused_upload_stores_nothing(gateway, staff, stack_env) -> None:
    """(Uploads from 127.0.0.22.) Permission is checked before a byte is stored."""
    async def scenario() -> None:
        peer, session, seat, _, holder = await held_chat(gateway, staff)
        other, elsewhere = await customer(gateway)  # a conversation the seat does not hold
        maintainer = f"kb-{uuid.uuid4().hex[:6]}"
        staff.add(maintainer, "maintainer", PASSWORD)
        attempts = [  # (headers, what is refused); each with an image never stored before
            ({"X-Xiaoshen-Conversation": session,
              **with_cookie(log_in(gateway, new_seat(staff, "市税务局")))},
             "a seat of another department"),
            ({"X-Xiaoshen-Conversation": session, **with_cookie(log_in(gateway, maintainer))},
             "a maintainer"),
            ({"X-Xiaoshen-Conversation": elsewhere, **with_cookie(holder)},
             "a chat the seat does not hold"),
            ({"X-Xiaoshen-Conversation": session}, "no login"),
            ({"X-Xiaoshen-Session": uuid.uuid4().hex}, "a conversation that does not exist"),
        ]
        before = stored_attachments(stack_env["XIAOSHEN_DB"])
        with http_from(loopback(22)) as http:
            for size, (headers, who) in enumerate(attempts, start=3):
                image = tiny_png(size, 70 + size)  # no other test sends these sizes
                refused = http.post(f"{gateway}/api/attachments", content=image,
                                    headers=headers)
                assert refused.status_code in (401, 403, 404), (who, refused.text)
                assert stored_attachments(stack_env["XIAOSHEN_DB"]) == before, who
            sent = http.post(f"{gateway}/api/attachments", content=tiny_png(3, 77),
                             headers={"X-Xiaoshen-Conversation": session, **with_cookie(holder)})
        assert sent.status_code == 201, sent.text  # the seat holding the chat may
        stored, files = stored_attachments(stack_env["XIAOSHEN_DB"])
        assert stored == before[0] + 1 and len(files - before[1]) == 1
        await close(seat, peer, other)

    asyncio.run(scenario())


def test_more_than_ten_uploads_a_minute_are_refused(gateway) -> None:
    """Per conversation (10 from 127.0.0.30, the 11th from 127.0.0.31) and per client
    address (10 from 127.0.0.32 into two conversations, the 11th into a third)."""
    async def conversations(count: int) -> list[str]:
        ids = []
        for _ in range(count):
            peer, session = await customer(gateway)
            ids.append(session)
            await peer.client.disconnect()
        return ids

    one, *others = asyncio.run(conversations(4))
    upload = f"{gateway}/api/attachments"
    with http_from(loopback(30)) as http:
        for _ in range(10):
            sent = http.post(upload, content=tiny_png(), headers={"X-Xiaoshen-Session": one})
            assert sent.status_code == 201, sent.text
    with http_from(loopback(31)) as http:
        eleventh = http.post(upload, content=tiny_png(), headers={"X-Xiaoshen-Session": one})
        assert eleventh.status_code == 429 and eleventh.json()["error"]
    with http_from(loopback(32)) as http:
        for number in range(10):
            sent = http.post(upload, content=tiny_png(),
                             headers={"X-Xiaoshen-Session": others[number % 2]})
            assert sent.status_code == 201, sent.text
        eleventh = http.post(upload, content=tiny_png(),
                             headers={"X-Xiaoshen-Session": others[2]})
        assert eleventh.status_code == 429 and eleventh.json()["error"]


# -- ratings ------------------------------------------------------------------------------------

def ratings(stack_env: dict[str, str], conversation_id: str) -> int:
    return rows(stack_env["XIAOSHEN_DB"], "ratings", "conversation_id = ?", [conversation_id])


async def refused(peer: Peer) -> str | None:
    """The protocol_error the last event got, if one comes within WAIT."""
    try:
        return (await peer.next("protocol_error"))["error"]
    except TimeoutError:
        return None


def test_an_ended_chat_is_rated_once(gateway, staff, stack_env) -> None:
    async def scenario() -> str:
        seat = await seat_peer(gateway, new_seat(staff, "市公安局"))
        peer, session = await escalated(gateway)
        await seat.until("chat_assigned", lambda d: d["conversation"]["id"] == session)
        ended = await seat.client.call("end_chat", {"conversation_id": session,
                                                    "resolved": True}, namespace="/seat")
        assert ended["ok"]
        await peer.next("chat_ended")
        await peer.client.emit("rate", {"level": 1, "comment": "第一次"})

        async def recorded() -> None:
            while ratings(stack_env, session) == 0:
                await asyncio.sleep(0.1)

        await asyncio.wait_for(recorded(), WAIT)
        await peer.client.emit("rate", {"level": 1, "comment": "第二次"})
        assert await refused(peer), "a second rating was accepted"
        await close(seat, peer)
        return session

    assert ratings(stack_env, asyncio.run(scenario())) == 1


def test_a_chat_that_never_had_a_human_cannot_be_rated(gateway, stack_env) -> None:
    async def scenario() -> str:
        peer, session = await customer(gateway)
        await say(peer, session, "你好")
        await peer.next("bot_uttered")
        await peer.client.emit("rate", {"level": 1})
        assert await refused(peer), "a bot-only chat was rated"
        await close(peer)
        return session

    assert ratings(stack_env, asyncio.run(scenario())) == 0


# -- session ids --------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted", ["1", "admin", "webchat-6f1c2a", uuid.uuid4().hex])
def test_an_id_the_server_did_not_issue_gets_a_new_one(gateway, wanted) -> None:
    async def scenario() -> None:
        peer, session = await customer(gateway, wanted)
        assert session != wanted and SERVER_ID.fullmatch(session)
        await close(peer)

    asyncio.run(scenario())


def test_a_real_id_resumes_its_conversation(gateway) -> None:
    async def scenario() -> None:
        peer, session = await customer(gateway)
        await say(peer, session, "你好")
        await peer.next("bot_uttered")
        await close(peer)
        again, resumed = await customer(gateway, session)
        assert resumed == session
        await close(again)

    asyncio.run(scenario())


def test_a_second_session_request_leaves_the_first_conversation(gateway) -> None:
    async def scenario() -> None:
        moving, first = await customer(gateway)
        await moving.client.emit("session_request", {"session_id": None})
        second = await moving.next("session_confirm")
        assert second != first
        staying, resumed = await customer(gateway, first)
        assert resumed == first
        await say(staying, first, "你好")
        await staying.next("bot_uttered")
        await asyncio.sleep(0.5)  # what the room sent reached every socket in it by now
        for event in ("customer_echo", "bot_uttered", "typing"):
            assert drain(moving.queue(event)) == [], event
        await say(moving, first, "还能写进原来的会话吗")
        assert "只能在自己的会话中发送消息" in (await moving.next("protocol_error"))["error"]
        await close(moving, staying)

    asyncio.run(scenario())


def set_back(db: str, table: str, key: str, value: str, hours: float,
             keep: tuple[str, ...] = ()) -> None:
    """Move the rows of `table` where `key` = `value` `hours` into the past: every *_at
    time but those in `keep`."""
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                   if row[1].endswith("_at") and row[1] not in keep]
        found = conn.execute(f"SELECT rowid, {', '.join(columns)} FROM {table} "
                             f"WHERE {key} = ?", [value]).fetchall()
        assert found, f"no {table} row with {key} = {value!r}"
        for rowid, *times in found:
            moved = {column: (datetime.fromisoformat(time) - timedelta(hours=hours)
                              ).isoformat(timespec="seconds")
                     for column, time in zip(columns, times, strict=True) if time}
            if moved:
                conn.execute(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in moved)} "
                             "WHERE rowid = ?", [*moved.values(), rowid])
        conn.commit()


def test_a_conversation_idle_for_two_hours_is_not_resumed(gateway, stack_env) -> None:
    async def scenario() -> None:
        peer, session = await customer(gateway)
        await say(peer, session, "你好")
        await peer.next("bot_uttered")
        await close(peer)
        await asyncio.sleep(0.5)  # the bot's turn is stored
        for table, key in (("messages", "conversation_id"), ("conversations", "id")):
            set_back(stack_env["XIAOSHEN_DB"], table, key, session, hours=2)
        again, fresh = await customer(gateway, session)
        assert fresh != session and SERVER_ID.fullmatch(fresh)
        await again.client.emit("sync", {"after": 0})
        assert (await again.next("history"))["messages"] == []  # nobody else's old chat
        await close(again)

    asyncio.run(scenario())


# -- headers and origins ------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "frames"), [
    ("/chat", "'self'"), ("/console", "'none'"), ("/api/me", None), ("/health", None),
    ("/no-such-page", None), ("/static/no-such-file.js", None),
])
def test_every_response_carries_the_security_headers(gateway, path, frames) -> None:
    response = httpx.get(f"{gateway}{path}")
    policy = response.headers.get("content-security-policy", "")
    ancestors = next((d.strip() for d in policy.split(";")
                      if d.strip().startswith("frame-ancestors")), "")
    assert ancestors, f"{path}: no frame-ancestors in {policy!r}"
    if frames:
        assert frames in ancestors.split()
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_a_socket_from_another_origin_is_refused(gateway, staff, origin) -> None:
    async def scenario() -> None:
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Peer().client.connect(gateway, transports=["websocket"],
                                        headers={"Origin": origin})
        cookie = log_in(gateway, new_seat(staff, "市税务局"))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await Peer().client.connect(gateway, namespaces=["/seat"], transports=["websocket"],
                                        headers={"Origin": origin, **with_cookie(cookie)})
        own = Peer()  # the gateway's own pages
        await own.client.connect(gateway, transports=["websocket"], headers={"Origin": gateway})
        await own.client.emit("session_request", {"session_id": None})
        assert SERVER_ID.fullmatch(await own.next("session_confirm"))
        await close(own)

    asyncio.run(scenario())
    preflight = httpx.options(f"{gateway}/api/login", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST"})
    assert preflight.headers.get("access-control-allow-origin") not in ("*", origin)


# -- no traceback for any input -------------------------------------------------------------------

@pytest.mark.parametrize(("event", "data"), [
    ("sync", {"after": 2**64}),
    ("sync", {"after": 2**63}),
    ("user_uttered", {"message": "你好\ud800", "session_id": None}),
])
def test_a_bad_event_gets_a_protocol_error_and_the_socket_still_works(gateway, event,
                                                                       data) -> None:
    async def scenario() -> None:
        peer, session = await customer(gateway)
        sent = {**data, "session_id": session} if "session_id" in data else data
        await peer.client.emit(event, sent)
        assert (await peer.next("protocol_error"))["error"]
        await peer.client.emit("sync", {"after": 0})
        assert "messages" in await peer.next("history")
        await close(peer)

    asyncio.run(scenario())


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/login", b"[" * 5000 + b"]" * 5000),
    ("POST", "/api/login", b'{"name": "\xff\xfe", "password": "x"}'),
    ("POST", "/api/login", b'{"name": "' + b"a" * 1_000_000 + b'", "password": "x"}'),
    ("GET", "/static", b""),
    ("GET", "/static/", b""),
    ("GET", "/api/attachments/", b""),
])
def test_a_bad_request_gets_a_json_error_and_the_gateway_keeps_answering(gateway, method,
                                                                          path, body) -> None:
    """(From 127.0.0.50.)"""
    with http_from(loopback(50)) as http:
        response = http.request(method, f"{gateway}{path}", content=body,
                                headers={"Content-Type": "application/json"},
                                follow_redirects=True)
        assert 400 <= response.status_code < 500, response.text[:200]
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()
        assert list(error) == ["error"] and error["error"]
        assert http.get(f"{gateway}/health").json() == {"status": "ok"}
