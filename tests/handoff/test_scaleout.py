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

import httpx
import pytest

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from tests.conftest import ROOT, free_port
from tests.handoff.test_gateway import PASSWORD, customer, say, seat_peer

pytestmark = pytest.mark.stack
REDIS = "/usr/bin/redis-server"


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


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if not os.path.exists(REDIS):
        pytest.fail("redis-server is missing: scripts/test-prerequisites.sh installs it")
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


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
