"""Chaos: `kill -9` each service in turn under a steady load, and count what it cost.

    .venv/bin/python -m bench.chaos [--bots 20] [--humans 10] [--interval 8] [--settle 20]

Starts `xiaoshen serve` on free ports over a copy of the database and its index (seats around
the clock), logs seats in over the real Socket.IO console namespace (bench/gateway_load.py's
helpers), escalates `--humans` citizens to them, and keeps `--bots` citizens asking the bot;
every citizen sends a message every `--interval` seconds (the seats answer each at once).
After a warm-up it kills the gateway, then Rasa, then the action server with SIGKILL, each
once the previous one is back and the load has settled. Clients reconnect as the chat page
does (same session, then the messages after the last one they have); a message that falls due
while its client is disconnected is sent on reconnect, and its delay counts from when it was
due. Printed per service, for the messages due from the kill until the service was back:

- lost: never stored by the gateway (sent into a connection the kill cut) or stored and never
  answered; answered twice; answers out of order;
- late: answered more than `--late` seconds after being due, p50 / max of their delay;
- recovery: kill → the first bot answer (and seat answer) to a message due after the kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from bench.gateway_load import (
    PASSWORD,
    SEAT,
    Customer,
    Desk,
    Seat,
    copy_database,
    free_port,
    loopback,
    percentile,
    until,
)
from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from xiaoshen import settings
from xiaoshen.stack import status
from xiaoshen.supervisor import read_state

ROOT = Path(__file__).resolve().parents[1]
DEPARTMENT = "市公安局"
QUESTIONS = ("居住证签注要带什么材料", "公积金付房租怎么提取", "营业执照怎么申请",
             "新生儿医保怎么办理", "无犯罪记录证明要多久", "居住证签注收费吗",
             "租房提取公积金要什么材料", "个体户营业执照在哪里办")
KILL_ORDER = ("gateway", "rasa", "actions")


@dataclass
class Sent:
    """One citizen message: when it was due, and what came of it (perf_counter times)."""
    conversation: str
    text: str
    bot: bool
    due: float
    message_id: int | None = None  # as the gateway stored it (its echo, or the history)
    answers: list[float] = field(default_factory=list)  # when each answer arrived
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # the page's id for it


class Redials:
    """Dials again, every 0.5 s until `redial` succeeds, when the connection drops (unless
    the peer is closing)."""

    closing = False
    reconnecting: asyncio.Task | None = None

    async def dropped(self, *_: Any) -> None:
        if not self.closing and (self.reconnecting is None or self.reconnecting.done()):
            self.reconnecting = asyncio.create_task(self.reconnect())

    async def reconnect(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self.redial()
                return
            except Exception:  # the gateway is not back yet
                await self.client.disconnect()

    async def redial(self) -> None:
        raise NotImplementedError


class Citizen(Redials, Customer):
    """A customer on the chat page that reconnects like it: same session, then a sync, then
    each message not yet echoed back as stored sent again with its key."""

    def __init__(self, url: str, address: str, desk: Desk, bot: bool) -> None:
        super().__init__(url, address, desk)
        self.bot = bot
        self.sent: list[Sent] = []
        self.seen: set[int] = set()
        self.last_id = 0
        self.online = asyncio.Event()
        self.client.on("customer_echo", self.event)
        self.client.on("history", self.history)
        self.client.on("disconnect", self.dropped)

    async def start(self) -> None:
        await super().start()
        self.online.set()

    async def close(self) -> None:
        self.closing = True
        await super().close()

    async def dropped(self, *_: Any) -> None:
        self.online.clear()
        await super().dropped()

    async def redial(self) -> None:
        self.confirmed.clear()
        await self.client.connect(self.url, transports=["websocket"],
                                  auth={"client": "xiaoshen"})
        await self.client.emit("session_request", {"session_id": self.session})
        await asyncio.wait_for(self.confirmed.wait(), 10)
        await self.client.emit("sync", {"after": self.last_id})
        for sent in self.sent:
            if sent.message_id is None:
                await self.utter(sent)
        self.online.set()

    async def uttered(self, data: dict) -> None:
        await self.event(data)

    async def history(self, data: dict) -> None:
        for message in data["messages"]:
            await self.event(message)

    async def event(self, data: dict) -> None:
        """A stored message, live or from the history: each counted once."""
        if data.get("id") in self.seen:
            return
        self.seen.add(data["id"])
        self.last_id = max(self.last_id, data["id"])
        if data.get("sender") == "customer":
            waiting = next((s for s in self.sent if s.key == data.get("key")), None)
            if waiting:
                waiting.message_id = data["id"]
            return
        if data.get("reply_to"):  # the bot's answer (or its apology) to a message
            asked = next((s for s in self.sent if s.message_id == data["reply_to"]), None)
            if asked:
                asked.answers.append(time.perf_counter())
        await Customer.uttered(self, data)  # the bot replied; a seat's answer

    async def send(self, text: str, due: float) -> None:
        sent = Sent(self.session, text, self.bot, due)
        self.sent.append(sent)
        while True:
            await self.online.wait()
            try:
                await self.utter(sent)
                return
            except Exception:  # disconnected meanwhile: sent again on reconnect
                self.online.clear()

    async def utter(self, sent: Sent) -> None:
        await self.client.emit("user_uttered", {"message": sent.text, "key": sent.key,
                                                "session_id": self.session})


class Console(Redials, Seat):
    """A seat that logs in again after the gateway comes back and answers what its chats
    received meanwhile (the console restores them from my_chats)."""

    def __init__(self, url: str, name: str, desk: Desk) -> None:
        super().__init__(url, name, desk)
        self.answered: set[int] = set()
        self.client.on("my_chats", self.chats, namespace=SEAT)
        self.client.on("disconnect", self.dropped, namespace=SEAT)

    async def message(self, data: dict) -> None:
        if data["id"] in self.answered:
            return
        self.answered.add(data["id"])
        for _ in range(20):
            try:
                await super().message(data)
                return
            except socketio.exceptions.SocketIOError:
                await asyncio.sleep(0.25)
        self.answered.discard(data["id"])  # cut off: answered from my_chats on reconnect

    async def chats(self, data: dict) -> None:
        # (it comes before the namespace counts as connected: answer the history first)
        await until(lambda: SEAT in self.client.namespaces, 5)
        for chat in data["chats"]:
            for message in chat["history"]:
                if message["sender"] == "customer" and message["body"].startswith("human-"):
                    await self.message(message)

    async def redial(self) -> None:
        await self.connect()


@dataclass
class Kill:
    service: str
    at: float  # perf_counter
    back: float = 0.0  # healthy again


def start_stack(home: Path, config: settings.Settings) -> tuple[subprocess.Popen, dict]:
    """`xiaoshen serve` over a copy of the database and index, on free ports."""
    copy_database(config.db, home / "kb.db")
    shutil.copytree(config.index_dir, home / "index")
    cache = config.index_dir.with_name("index-vectors.db")
    if cache.is_file():
        shutil.copy(cache, home / cache.name)
    shutil.copy(config.db.with_name("secrets.json"), home / "secrets.json")
    env = {**os.environ, "XIAOSHEN_DB": str(home / "kb.db"),
           "XIAOSHEN_INDEX_DIR": str(home / "index"), "XIAOSHEN_SEAT_HOURS": "always",
           "XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_ACTIONS_PORT": str(free_port()),
           "XIAOSHEN_GATEWAY_PORT": str(free_port())}
    with (home / "serve.log").open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, env


def healthy(config: settings.Settings) -> bool:
    return all(status(config).values())


async def wait_healthy(config: settings.Settings, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(healthy, config):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)
    return True


async def talk(citizen: Citizen, interval: float, stop: asyncio.Event, offset: float) -> None:
    """A message every `interval` seconds, open loop, until `stop`."""
    number = 0
    start = time.perf_counter() + offset
    while not stop.is_set():
        due = start + number * interval
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        text = (QUESTIONS[(number + hash(citizen.session)) % len(QUESTIONS)] if citizen.bot
                else f"human-{citizen.session[:6]}-{number}")
        await citizen.send(text, due)
        number += 1


async def run(args: argparse.Namespace, config: settings.Settings, home: Path) -> None:
    stack, env = start_stack(home, config)
    local = settings.load(env)
    try:
        if not await wait_healthy(local, 300):
            sys.exit("Error: the stack did not start; see " + str(home / "serve.log"))
        url = local.url("gateway")
        desk = Desk()
        directory = StaffDirectory(KnowledgeBase(local.db))
        names = [f"chaos-{uuid.uuid4().hex[:6]}" for _ in range(args.seats)]
        for name in names:
            directory.add(name, "agent", PASSWORD, DEPARTMENT,
                          capacity=-(-args.humans // args.seats))
        seats = [Console(url, name, desk) for name in names]
        for seat in seats:
            await seat.connect()
        citizens = [Citizen(url, loopback(n), desk, bot=n >= args.humans)
                    for n in range(args.humans + args.bots)]
        for citizen in citizens:
            await citizen.start()
        humans = [c for c in citizens if not c.bot]
        for citizen in humans:  # each asks the bot, then for a seat
            await citizen.say("无犯罪记录证明在哪里开")
            await asyncio.wait_for(citizen.answered.wait(), 60)
            await citizen.say("转人工")
        if not await until(lambda: all(c.session in desk.assigned for c in humans), 60):
            sys.exit("Error: not every human chat reached a seat")
        print(f"   {len(seats)} seats, {len(humans)} human chats, {args.bots} bot "
              "conversations; warming up", file=sys.stderr)
        stop = asyncio.Event()
        talking = [asyncio.create_task(talk(c, args.interval, stop, n * args.interval / len(
            citizens))) for n, c in enumerate(citizens)]
        await asyncio.sleep(args.settle)
        warm = time.perf_counter()
        kills = []
        for service in KILL_ORDER:
            pid = read_state(local)[service]["pid"]
            kill = Kill(service, time.perf_counter())
            os.kill(pid, signal.SIGKILL)
            print(f"   kill -9 {service} (pid {pid})", file=sys.stderr)
            await asyncio.sleep(1)
            if not await wait_healthy(local, 300):
                sys.exit(f"Error: {service} did not come back; see {home / 'serve.log'}")
            kill.back = time.perf_counter()
            kills.append(kill)
            await asyncio.sleep(args.settle)
        stop.set()
        await asyncio.gather(*talking)
        everything = [s for c in citizens for s in c.sent]
        await until(lambda: all(s.answers for s in everything), args.drain)
        report(args, citizens, desk, kills, warm)
        stored_order(local.db, [c.session for c in citizens if c.bot])
        for citizen in citizens:
            await citizen.close()
        for seat in seats:
            seat.closing = True
            await seat.client.disconnect()
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        with suppress(OSError):
            shutil.copy(home / "serve.log", args.log)


def answered_at(sent: Sent, desk: Desk) -> list[float]:
    if sent.bot:
        return sent.answers
    return [desk.replied[sent.text]] if sent.text in desk.replied else []


def report(args: argparse.Namespace, citizens: list[Citizen], desk: Desk, kills: list[Kill],
           warm: float) -> None:
    everything = [s for c in citizens for s in c.sent]
    normal = [(answered_at(s, desk)[0] - s.due) for s in everything  # clear of any kill
              if s.due < warm - args.settle / 2 and answered_at(s, desk)]
    print(f"{args.bots} bot conversations and {args.humans} human chats, a message every "
          f"{args.interval:g} s each, {os.cpu_count()} cores; {len(everything)} messages")
    print(f"before any kill: answer p50 / p99 {percentile(normal, .5) * 1000:.0f} / "
          f"{percentile(normal, .99) * 1000:.0f} ms; bot / seat cells below")
    header = ("service", "msgs", "never stored", "unanswered", "twice", "chats disordered",
              f"late >{args.late:g}s", "bot late p50/max s", "seat late p50/max s",
              "bot back s", "seat back s", "healthy s")
    print("  ".join(f"{h:>19}" for h in header))
    for kill in kills:
        window = [s for s in everything if kill.at - args.late <= s.due <= kill.back]
        kinds = ([s for s in window if s.bot], [s for s in window if not s.bot])
        late = [[answered_at(s, desk)[0] - s.due for s in kind if answered_at(s, desk)
                 and answered_at(s, desk)[0] - s.due > args.late] for kind in kinds]
        cells = (kill.service, " / ".join(str(len(kind)) for kind in kinds),
                 count(kinds, lambda s: s.message_id is None and not answered_at(s, desk)),
                 count(kinds, lambda s: s.message_id is not None and not answered_at(s, desk)),
                 count(kinds, lambda s: len(answered_at(s, desk)) > 1),
                 " / ".join(str(sum(not in_order(c, desk, kill) for c in citizens
                                    if c.bot == bot)) for bot in (True, False)),
                 " / ".join(str(len(times)) for times in late),
                 *(f"{percentile(times, .5):.1f} / {max(times):.1f}" if times else "–"
                   for times in late),
                 back(everything, desk, kill, True), back(everything, desk, kill, False),
                 f"{kill.back - kill.at:.1f}")
        print("  ".join(f"{c!s:>19}" for c in cells))
        for sent in window:
            if not answered_at(sent, desk):
                print(f"   {kill.service}: unanswered {sent.text!r} of {sent.conversation[:8]}"
                      f", due {sent.due - kill.at:+.1f} s after the kill, stored as "
                      f"{sent.message_id}, reached a seat: {sent.text in desk.received}",
                      file=sys.stderr)


def count(kinds: tuple[list[Sent], ...], check: Any) -> str:
    return " / ".join(str(sum(1 for s in kind if check(s))) for kind in kinds)


def back(everything: list[Sent], desk: Desk, kill: Kill, bot: bool) -> str:
    """Seconds from the kill to the first answer (of the bot, or a seat) to a message due
    after it."""
    firsts = [answered_at(s, desk)[0] for s in everything if s.bot == bot
              and s.due >= kill.at and answered_at(s, desk)]
    return f"{min(firsts) - kill.at:.1f}" if firsts else "–"


def stored_order(db: Path, conversations: list[str]) -> None:
    """The gateway's own record: each conversation's bot answers stored in the order of the
    messages they answer, each message answered once."""
    kb = KnowledgeBase(db)
    disordered = twice = 0
    for conversation in conversations:
        answered = [json.loads(row[0]).get("reply_to") for row in kb.db.execute(
            "SELECT extra FROM messages WHERE conversation_id = ? AND sender = 'bot' "
            "ORDER BY id", [conversation])]
        answered = [reply for reply in answered if reply]
        disordered += answered != sorted(answered)
        twice += len(answered) - len(set(answered))
        if answered != sorted(set(answered)):
            print(f"   {conversation[:8]}: answers to {answered}", file=sys.stderr)
    print(f"in the database: {disordered} of {len(conversations)} bot conversations with "
          f"answers stored out of order, {twice} messages answered twice")


def in_order(citizen: Citizen, desk: Desk, kill: Kill) -> bool:
    """Whether the citizen's answers around the kill came in the order asked."""
    times = [answered_at(s, desk)[0] for s in citizen.sent
             if kill.at - 10 <= s.due <= kill.back + 10 and answered_at(s, desk)]
    return times == sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bots", type=int, default=20, help="bot conversations")
    parser.add_argument("--humans", type=int, default=10, help="human chats")
    parser.add_argument("--seats", type=int, default=5)
    parser.add_argument("--interval", type=float, default=8,
                        help="seconds between one citizen's messages")
    parser.add_argument("--settle", type=float, default=20,
                        help="seconds of steady load before the first kill and after each")
    parser.add_argument("--late", type=float, default=3,
                        help="an answer later than this many seconds is late")
    parser.add_argument("--drain", type=float, default=90,
                        help="seconds to wait at the end for outstanding answers")
    parser.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "chaos.log",
                        help="where to keep the services' log")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args, settings.load(), Path(folder)))


if __name__ == "__main__":
    main()
