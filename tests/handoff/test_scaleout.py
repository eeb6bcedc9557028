"""Persistence and scale-out: a gateway killed with SIGKILL and restarted loses no message and
its queues resume; two gateway processes share the work through Debian's redis-server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import pytest
import socketio

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from tests.conftest import ROOT, free_port
from tests.handoff.test_gateway import PASSWORD, Peer, customer, say, seat_peer, session_cookie

pytestmark = pytest.mark.stack


@contextmanager
def gateway_process(stack_env: dict[str, str], port: int, **extra: str) -> Iterator[str]:
    """A gateway of its own on `port`, beside the stack's Rasa and database."""
    env = {**os.environ, **stack_env, "XIAOSHEN_GATEWAY_PORT": str(port), **extra}
    process = subprocess.Popen([sys.executable, "-m", "handoff.gateway", "--port", str(port)],
                               cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url, process)
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def wait_for(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the gateway stopped")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the gateway did not start")


def new_seat(stack_env: dict[str, str], department: str) -> str:
    name = f"seat-{uuid.uuid4().hex[:8]}"
    StaffDirectory(KnowledgeBase(stack_env["XIAOSHEN_DB"])).add(name, "agent", PASSWORD,
                                                                department, capacity=100)
    return name


def test_a_killed_gateway_loses_nothing_and_its_queue_resumes(stack, stack_env) -> None:
    port = free_port()
    env = {**os.environ, **stack_env, "XIAOSHEN_GATEWAY_PORT": str(port)}
    command = [sys.executable, "-m", "handoff.gateway", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"

    async def before() -> tuple[str, list[int]]:
        peer, session = await customer(url)
        await say(peer, session, "危险货物港口作业许可怎么申请")
        await peer.next("bot_uttered")
        await say(peer, session, "转人工")
        await peer.until("bot_uttered", lambda d: d.get("outcome") == "handoff")
        await say(peer, session, "我在排队，麻烦快一点")
        await peer.until("customer_echo", lambda d: d["text"] == "我在排队，麻烦快一点")
        await peer.client.emit("sync", {"after": 0})
        ids = [m["id"] for m in (await peer.next("history"))["messages"]]
        await peer.client.disconnect()
        return session, ids

    async def after(session: str, ids: list[int]) -> None:
        again, resumed = await customer(url, session)
        assert resumed == session
        await again.client.emit("sync", {"after": 0})
        history = (await again.next("history"))["messages"]
        assert [m["id"] for m in history] == ids  # nothing lost, nothing doubled
        seat = await seat_peer(url, new_seat(stack_env, "市交通委"))
        assigned = await seat.until("chat_assigned", lambda d: d["conversation"]["id"] == session)
        assert assigned["history"][-1]["body"] == "我在排队，麻烦快一点"
        await seat.client.disconnect()
        await again.client.disconnect()

    first = subprocess.Popen(command, cwd=ROOT, env=env)
    wait_for(url, first)
    session, ids = asyncio.run(before())
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    second = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for(url, second)
        asyncio.run(after(session, ids))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)


def test_two_gateways_share_the_work_through_redis(stack, stack_env, redis_url) -> None:
    redis = {"XIAOSHEN_REDIS_URL": redis_url}
    with gateway_process(stack_env, free_port(), **redis) as one, \
            gateway_process(stack_env, free_port(), **redis) as two:
        async def scenario() -> None:
            seat = await seat_peer(two, new_seat(stack_env, "市市场监管局"))
            peer, session = await customer(one)
            await say(peer, session, "食品经营许可证怎么办")
            await peer.next("bot_uttered")
            await say(peer, session, "转人工")
            assigned = await seat.until("chat_assigned",
                                        lambda d: d["conversation"]["id"] == session)
            assert assigned["conversation"]["department"] == "市市场监管局"
            await say(peer, session, "我在网上申请被退回了")
            got = await seat.until("customer_message", lambda d: d["conversation_id"] == session)
            assert got["body"] == "我在网上申请被退回了"
            ack = await seat.client.call("seat_message", {"conversation_id": session,
                                                          "text": "请把退回原因发我看看"},
                                         namespace="/seat")
            assert ack["ok"]
            reply = await peer.until("bot_uttered", lambda d: d["sender"] == "seat")
            assert reply["text"] == "请把退回原因发我看看"
            for client in (seat, peer):
                await client.client.disconnect()

        asyncio.run(scenario())


class Reconnecting(Peer):
    """A client that reconnects by itself, as the pages do, and resumes its conversation."""

    def __init__(self, cookies: dict[str, str] | None = None) -> None:
        super().__init__()
        # A session of our own keeps the login cookie for every reconnection (python-engineio
        # drops a Cookie header after the first connection).
        self.http = aiohttp.ClientSession(cookies=cookies) if cookies else None
        self.client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2,
                                           reconnection_delay_max=1, http_session=self.http)
        self.session: str | None = None

        @self.client.on("*", namespace="*")
        async def keep(event: str, namespace: str, data: Any = None) -> None:
            self.queue(event).put_nowait(data)

        # (Handlers of "/" hide the catch-all of every namespace there: keep "/" too.)
        @self.client.on("*")
        async def keep_root(event: str, data: Any = None) -> None:
            self.queue(event).put_nowait(data)

        @self.client.on("connect")
        async def resume() -> None:
            self.queue("connect").put_nowait(True)
            if self.session:
                await self.client.emit("session_request", {"session_id": self.session})


def test_a_gateway_killed_mid_chat_keeps_its_clocks_and_everyone_reconnects(
        stack, stack_env) -> None:
    port = free_port()
    env = {**os.environ, **stack_env, "XIAOSHEN_GATEWAY_PORT": str(port)}
    command = [sys.executable, "-m", "handoff.gateway", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    db = KnowledgeBase(stack_env["XIAOSHEN_DB"]).db
    gone_seat = new_seat(stack_env, "市公安局")

    async def escalate(peer: Peer, question: str) -> str:
        await peer.client.connect(url, transports=["websocket"], auth={"client": "xiaoshen"})
        await peer.client.emit("session_request", {})
        session = await peer.next("session_confirm")
        await say(peer, session, question)
        await peer.next("bot_uttered")
        await say(peer, session, "转人工")
        return session

    async def scenario(restart) -> None:
        # A seat that will never come back holds one chat ...
        gone = await seat_peer(url, gone_seat)
        held = Peer()
        held_session = await escalate(held, "无犯罪记录证明在哪里开")
        await gone.until("chat_assigned", lambda d: d["conversation"]["id"] == held_session)
        # ... a chat waits with nobody to answer it (its clock runs) ...
        waiting = Peer()
        waiting_session = await escalate(waiting, "危险货物港口作业许可怎么申请")
        # ... and a seat and a citizen talk, both reconnecting by themselves.
        seat_name = new_seat(stack_env, "市税务局")
        cookie = session_cookie(url, seat_name).split("=", 1)[1]
        seat = Reconnecting({"xiaoshen_staff": cookie})
        await seat.client.connect(url, namespaces=["/seat"], transports=["websocket"])
        citizen = Reconnecting()
        citizen.session = await escalate(citizen, "代开增值税专用发票需要什么材料")
        await seat.until("chat_assigned", lambda d: d["conversation"]["id"] == citizen.session)

        await asyncio.get_running_loop().run_in_executor(None, restart)
        await gone.client.disconnect()  # (already cut off; it never reconnects)

        # Both come back by themselves; the next messages arrive both ways.
        restored = await seat.until("my_chats", lambda d: any(
            c["conversation"]["id"] == citizen.session for c in d["chats"]), timeout=30)
        assert restored["chats"][0]["history"]
        await citizen.next("session_confirm", timeout=30)
        await say(citizen, citizen.session, "我重新连上了")
        got = await seat.until("customer_message", lambda d: d["body"] == "我重新连上了")
        assert got["conversation_id"] == citizen.session
        ack = await seat.client.call("seat_message", {"conversation_id": citizen.session,
                                                      "text": "好的，请继续"}, namespace="/seat")
        assert ack["ok"]
        await citizen.until("bot_uttered", lambda d: d.get("text") == "好的，请继续")

        # The clock of the chat escalated before the kill still records its breach, and the
        # seat that never came back has its chat re-queued.
        for _ in range(100):
            if db["conversations"].get(waiting_session)["breached_at"] and (
                    db["conversations"].get(held_session)["seat"] != gone_seat):
                break
            await asyncio.sleep(0.2)
        assert db["conversations"].get(waiting_session)["breached_at"]
        assert db["conversations"].get(held_session)["seat"] != gone_seat
        for client in (seat, citizen, held, waiting):
            await client.client.disconnect()
        await seat.http.close()

    processes = [subprocess.Popen(command, cwd=ROOT, env=env)]

    def restart() -> None:
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=10)
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env))
        wait_for(url, processes[-1])

    try:
        wait_for(url, processes[0])
        asyncio.run(scenario(restart))
    finally:
        processes[-1].send_signal(signal.SIGTERM)
        processes[-1].wait(timeout=20)
