"""Graceful degradation, with a gateway and a Rasa of the test's own (on the stack's action
server): while Rasa is down a citizen's message is kept and the conversation told once that
Xiaoshen is recovering; 转人工 and the human chat work without Rasa; held messages survive a
gateway killed with SIGKILL and are answered once Rasa is back, in order, once; a Rasa that
hangs (SIGSTOP) is treated as down after the turn timeout."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.relay import RECOVERING
from handoff.staff import StaffDirectory
from kb.gaps import PLATFORM_DEPARTMENT
from kb.io import import_seed
from kb.store import KnowledgeBase
from tests.conftest import ROOT, SEED, free_port
from tests.handoff.test_gateway import Peer, customer, new_seat, say, seat_peer
from xiaoshen import settings
from xiaoshen.secrets import secrets_path
from xiaoshen.stack import is_healthy, service_env, services

pytestmark = pytest.mark.stack
WAIT = 30.0


@dataclass
class Degraded:
    """A gateway of its own on a fresh base, its Rasa's port empty until `rasa` starts."""
    env: dict[str, str]
    config: settings.Settings
    url: str
    gateway: subprocess.Popen | None = None
    rasa: subprocess.Popen | None = None

    def start_gateway(self) -> None:
        self.gateway = subprocess.Popen(
            [sys.executable, "-m", "handoff.gateway", "--port", str(self.config.gateway_port)],
            cwd=ROOT, env={**self.env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the gateway did not start")

    def start_rasa(self) -> None:
        (rasa,) = [service for service in services(self.config) if service.name == "rasa"]
        self.rasa = subprocess.Popen(rasa.command, cwd=ROOT, env=service_env(self.config),
                                     start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while not is_healthy(rasa):
            if time.monotonic() > deadline:
                raise AssertionError("Rasa did not start")
            time.sleep(0.5)

    def kill(self, process: subprocess.Popen | None) -> None:
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def db(self) -> KnowledgeBase:
        return KnowledgeBase(self.config.db)


@pytest.fixture(scope="module")
def degraded(stack, stack_env, tmp_path_factory) -> Iterator[Degraded]:
    home = tmp_path_factory.mktemp("degraded")
    import_seed(KnowledgeBase(home / "kb.db"), SEED)
    # The stack's action server answers this Rasa: the same shared secret.
    shutil.copy(Path(stack_env["XIAOSHEN_DB"]).with_name("secrets.json"), home)
    env = {**os.environ, **stack_env, "XIAOSHEN_DB": str(home / "kb.db"),
           "XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_GATEWAY_PORT": str(free_port())}
    config = settings.load(env)
    assert secrets_path(config).is_file()
    degraded = Degraded(env, config, config.url("gateway"))
    degraded.start_gateway()
    yield degraded
    degraded.kill(degraded.gateway)
    if degraded.rasa:
        os.kill(degraded.rasa.pid, signal.SIGCONT)
    degraded.kill(degraded.rasa)


def from_bot(data: dict[str, Any]) -> bool:
    return data.get("sender") == "bot"


def is_notice(data: dict[str, Any]) -> bool:
    return data.get("sender") == "system" and data.get("text") == RECOVERING


async def echoed(peer: Peer, session: str, text: str) -> int:
    """Say `text`; the id the gateway stored it under."""
    await say(peer, session, text)
    return (await peer.until("customer_echo", lambda d: d["body"] == text))["id"]


async def taken(seat: Peer, session: str) -> dict[str, Any]:
    """The chat as the seat gets it: assigned at once, or (a busy machine's heartbeat late)
    queued and then accepted."""
    assigned = asyncio.create_task(seat.until(
        "chat_assigned", lambda d: d["conversation"]["id"] == session, WAIT))
    queued = asyncio.create_task(seat.until("chat_queued", lambda d: d["id"] == session, WAIT))
    await asyncio.wait({assigned, queued}, return_when=asyncio.FIRST_COMPLETED)
    if not assigned.done():
        answer = await seat.client.call("accept", {"conversation_id": session},
                                        namespace="/seat", timeout=WAIT)
        assert answer == {"ok": True}
    queued.cancel()
    return await assigned


def held(kb: KnowledgeBase, conversation_id: str) -> list[int]:
    return [row[0] for row in kb.db.execute(
        "SELECT message_id FROM held_messages WHERE conversation_id = ? ORDER BY message_id",
        [conversation_id])]


def bot_replies(kb: KnowledgeBase, conversation_id: str) -> list[int]:
    """The customer messages the stored bot messages answer, in order."""
    return [json.loads(row[0]).get("reply_to") for row in kb.db.execute(
        "SELECT extra FROM messages WHERE conversation_id = ? AND sender = 'bot' ORDER BY id",
        [conversation_id])]


def test_human_chat_works_while_rasa_is_down(degraded) -> None:
    staff = StaffDirectory(degraded.db())
    name = new_seat(staff, PLATFORM_DEPARTMENT)

    async def scenario() -> None:
        seat = await seat_peer(degraded.url, name)
        peer, session = await customer(degraded.url)
        question = await echoed(peer, session, "无犯罪记录证明在哪里开")
        notice = await peer.until("bot_uttered", lambda d: d.get("sender") == "system")
        assert notice["text"] == RECOVERING
        await say(peer, session, "/request_human")  # the 转人工 button
        handing = await peer.until("bot_uttered", lambda d: d.get("sender") == "system"
                                   and "正在为您转接" in d["text"])
        assert PLATFORM_DEPARTMENT in handing["text"]
        assigned = await taken(seat, session)
        assert question in [m["id"] for m in assigned["history"]]  # the seat reads it
        joined = await peer.until("bot_uttered", lambda d: d.get("sender") == "system"
                                  and "人工帮办已接入" in d["text"])
        assert joined
        await seat.client.emit("seat_message", {"conversation_id": session,
                                                "text": "请携带身份证到派出所办理。"},
                               namespace="/seat")
        answer = await peer.until("bot_uttered", lambda d: d.get("sender") == "seat")
        assert answer["text"] == "请携带身份证到派出所办理。"
        await say(peer, session, "好的，谢谢")
        heard = await seat.until("customer_message", lambda d: d["body"] == "好的，谢谢")
        assert heard["conversation_id"] == session
        assert held(degraded.db(), session) == []
        await peer.client.disconnect()
        await seat.client.disconnect()

    asyncio.run(scenario())


def test_held_messages_survive_a_gateway_restart_and_are_answered_once_in_order(
        degraded) -> None:
    kb = degraded.db()

    async def before_restart() -> tuple[str, list[int]]:
        peer, session = await customer(degraded.url)
        first = await echoed(peer, session, "居住证签注要带什么材料")
        await peer.until("bot_uttered", is_notice)
        second = await echoed(peer, session, "公积金付房租怎么提取")
        deadline = time.monotonic() + WAIT
        while held(kb, session) != [first, second] and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await peer.client.disconnect()
        return session, [first, second]

    session, asked = asyncio.run(before_restart())
    assert held(kb, session) == asked
    degraded.kill(degraded.gateway)  # SIGKILL: nothing is flushed on the way out
    degraded.start_gateway()
    degraded.start_rasa()

    async def after_restart() -> list[dict[str, Any]]:
        peer, resumed = await customer(degraded.url, session)
        assert resumed == session
        await peer.client.emit("sync", {"after": 0})
        history = (await peer.next("history"))["messages"]
        answers = {m["id"]: m for m in history if from_bot(m)}  # live or in the history
        while len(answers) < len(asked):
            answer = await peer.until("bot_uttered", from_bot, WAIT)
            answers[answer["id"]] = answer
        await peer.client.disconnect()
        return [m for m in history if is_notice(m)] + sorted(answers.values(),
                                                              key=lambda m: m["id"])

    seen = asyncio.run(after_restart())
    notices, answers = seen[:1], seen[1:]
    assert len(notices) == 1  # once per outage, not per message
    assert [a["reply_to"] for a in answers] == asked
    assert [answers[0]["outcome"], answers[1]["outcome"]] == ["answered", "answered"]
    assert "居住证" in answers[0]["text"] and "公积金" in answers[1]["text"]
    time.sleep(2)  # a second answer, if one were coming
    assert bot_replies(kb, session) == asked
    assert held(kb, session) == []
    assert kb.db["conversations"].get(session)["recovering_since"] is None


def test_a_hung_rasa_is_waited_for_only_the_turn_timeout(degraded) -> None:
    if degraded.rasa is None:  # alone: the previous test starts it
        degraded.start_rasa()
    kb = degraded.db()

    async def scenario() -> None:
        peer, session = await customer(degraded.url)
        os.kill(degraded.rasa.pid, signal.SIGSTOP)
        try:
            asked = await echoed(peer, session, "营业执照怎么办")
            started = time.monotonic()
            await peer.until("bot_uttered", is_notice, WAIT)
            waited = time.monotonic() - started
        finally:
            os.kill(degraded.rasa.pid, signal.SIGCONT)
        assert 7 < waited < 15  # the turn timeout (8 s), not the old 30 s
        answer = await peer.until("bot_uttered", from_bot, WAIT)
        assert answer["reply_to"] == asked
        await asyncio.sleep(2)
        assert bot_replies(kb, session) == [asked]
        await peer.client.disconnect()

    asyncio.run(scenario())


def test_a_request_for_a_human_does_not_wait_behind_a_hung_turn(degraded) -> None:
    if degraded.rasa is None:
        degraded.start_rasa()
    kb = degraded.db()
    name = new_seat(StaffDirectory(kb), PLATFORM_DEPARTMENT)

    async def scenario() -> None:
        seat = await seat_peer(degraded.url, name)
        peer, session = await customer(degraded.url)
        os.kill(degraded.rasa.pid, signal.SIGSTOP)
        try:
            await echoed(peer, session, "社保卡丢了怎么补办")
            await peer.until("bot_uttered", is_notice, WAIT)  # the turn still hangs
            started = time.monotonic()
            await say(peer, session, "/request_human")
            await taken(seat, session)
            assert time.monotonic() - started < 10  # not behind the hung turn (60 s)
        finally:
            os.kill(degraded.rasa.pid, signal.SIGCONT)
        await asyncio.sleep(5)  # the hung turn's reply comes, and is not shown
        assert bot_replies(kb, session) == []
        assert held(kb, session) == []
        await peer.client.disconnect()
        await seat.client.disconnect()

    asyncio.run(scenario())
