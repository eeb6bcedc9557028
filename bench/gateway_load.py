"""The help desk under load, through real Socket.IO clients.

Starts its own gateway(s) on a temporary copy of the database, beside the running Rasa
(`xiaoshen serve` first), with seats around the clock, then prints:
- escalation → console notification (a customer's 转人工 until the seat's chat_assigned),
- N customers × M messages with S seats answering each message: messages lost (sent but not
  received by the seat, or replies not received by the customer), order kept, reply latency,
- the gateways' resident memory,
for one gateway, and for two behind Redis (`--redis URL`, e.g. a local redis-server).

    .venv/bin/python bench/gateway_load.py [--customers 200] [--messages 10] [--seats 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import socketio

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from xiaoshen import settings

ROOT = Path(__file__).resolve().parents[1]
DEPARTMENT = "市公安局"
QUESTION = "无犯罪记录证明在哪里开"
PASSWORD = "bench passphrase"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_gateways(db: Path, count: int, redis: str | None) -> list[tuple[subprocess.Popen, str]]:
    started = []
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "XIAOSHEN_DB": str(db), "XIAOSHEN_SEAT_HOURS": "always",
               "XIAOSHEN_REDIS_URL": redis or "", "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen([sys.executable, "-m", "handoff.gateway", "--port",
                                    str(port)], cwd=ROOT, env=env)
        started.append((process, f"http://127.0.0.1:{port}"))
    for _, url in started:
        for _attempt in range(150):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            sys.exit(f"Error: the gateway at {url} did not start")
    return started


class Seat:
    """A seat that answers every customer message at once, echoing its text."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.client = socketio.AsyncClient(reconnection=False)
        self.assigned_at: dict[str, float] = {}
        self.received: dict[str, list[str]] = {}
        self.client.on("chat_assigned", self.assigned, namespace="/seat")
        self.client.on("customer_message", self.message, namespace="/seat")

    async def connect(self) -> None:
        await self.client.connect(self.url, namespaces=["/seat"], auth={"token": self.token},
                                  transports=["websocket"])

    async def assigned(self, data: dict) -> None:
        self.assigned_at[data["conversation"]["id"]] = time.perf_counter()

    async def message(self, data: dict) -> None:
        self.received.setdefault(data["conversation_id"], []).append(data["body"])
        await self.client.emit("seat_message", {"conversation_id": data["conversation_id"],
                                                "text": "答复：" + data["body"]},
                               namespace="/seat")


class Customer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.client = socketio.AsyncClient(reconnection=False)
        self.session = ""
        self.confirmed = asyncio.Event()
        self.handed_over = asyncio.Event()
        self.seat_joined = asyncio.Event()
        self.replies: list[str] = []
        self.reply_times: list[float] = []
        self.client.on("session_confirm", self.confirm)
        self.client.on("bot_uttered", self.uttered)

    async def confirm(self, session: str) -> None:
        self.session = session
        self.confirmed.set()

    async def uttered(self, data: dict) -> None:
        if data.get("outcome") == "handoff":
            self.handed_over.set()
        if data.get("sender") == "system" and "已接入" in data.get("text", ""):
            self.seat_joined.set()
        if data.get("sender") == "seat":
            self.replies.append(data["text"])
            self.reply_times.append(time.perf_counter())

    async def start(self) -> None:
        await self.client.connect(self.url, transports=["websocket"])
        await self.client.emit("session_request", {})
        await asyncio.wait_for(self.confirmed.wait(), 30)

    async def say(self, text: str) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session})


async def run(urls: list[str], seats: int, customers: int, messages: int, db: Path) -> None:
    directory = StaffDirectory(KnowledgeBase(db))
    names = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(seats)]
    for name in names:
        directory.add(name, "agent", PASSWORD, DEPARTMENT, capacity=customers)
    tokens = [directory.login(name, PASSWORD) for name in names]
    desk = [Seat(urls[i % len(urls)], token) for i, token in enumerate(tokens)]
    await asyncio.gather(*(seat.connect() for seat in desk))

    people = [Customer(urls[(i + 1) % len(urls)]) for i in range(customers)]
    await asyncio.gather(*(person.start() for person in people))
    escalations: list[float] = []
    for person in people:  # one escalation at a time: the notification latency alone
        await person.say(QUESTION)
        await asyncio.sleep(0.05)
        sent = time.perf_counter()
        await person.say("转人工")
        await asyncio.wait_for(person.seat_joined.wait(), 30)
        # Through Redis the seat may hear of it a moment after the customer does.
        while not any(person.session in seat.assigned_at for seat in desk):
            await asyncio.sleep(0.005)
        joined = next(seat.assigned_at[person.session] for seat in desk
                      if person.session in seat.assigned_at)
        escalations.append((joined - sent) * 1000)
    print(f"escalation → console notification (n={len(escalations)}): "
          f"p50={percentile(escalations, .5):.1f} ms  p99={percentile(escalations, .99):.1f} ms")

    sent_at: dict[tuple[str, int], float] = {}

    async def talk(person: Customer) -> None:
        for number in range(messages):
            text = f"第{number}条消息"
            sent_at[(person.session, number)] = time.perf_counter()
            await person.say(text)
            await asyncio.sleep(0.3)

    started = time.perf_counter()
    await asyncio.gather(*(talk(person) for person in people))
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline and sum(len(p.replies) for p in people) < (
            customers * messages):
        await asyncio.sleep(0.2)
    received = {session: texts for seat in desk for session, texts in seat.received.items()}
    expected = [f"第{n}条消息" for n in range(messages)]
    lost_in = sum(len(set(expected) - set(received.get(p.session, []))) for p in people)
    lost_out = sum(messages - len(p.replies) for p in people)
    in_order = all(received.get(p.session, []) == expected for p in people) and all(
        p.replies == ["答复：" + text for text in expected] for p in people)
    latencies = [(p.reply_times[n] - sent_at[(p.session, n)]) * 1000
                 for p in people for n in range(min(messages, len(p.reply_times)))]
    print(f"{customers} customers × {messages} messages, {seats} seats, "
          f"{time.perf_counter() - started:.1f} s: lost to seats {lost_in}, replies lost "
          f"{lost_out}, order kept {in_order}")
    print(f"reply latency (customer message → seat's reply back): "
          f"p50={percentile(latencies, .5):.1f} ms  p95={percentile(latencies, .95):.1f} ms  "
          f"mean={statistics.mean(latencies):.1f} ms")
    for client in [*desk, *people]:
        await client.client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--seats", type=int, default=10)
    parser.add_argument("--redis", help="also run two gateways behind this Redis URL")
    args = parser.parse_args()
    config = settings.load()
    try:
        httpx.get(config.url("rasa") + "/status", timeout=5).raise_for_status()
    except httpx.HTTPError:
        sys.exit(f"Error: no Rasa at {config.url('rasa')}; start the stack first (xiaoshen serve)")
    runs = [("one gateway", 1, None)] + ([("two gateways, Redis", 2, args.redis)]
                                         if args.redis else [])
    for name, count, redis in runs:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            shutil.copy(config.db, db)
            gateways = start_gateways(db, count, redis)
            print(f"== {name}")
            try:
                asyncio.run(run([url for _, url in gateways], args.seats, args.customers,
                                args.messages, db))
                memory = ", ".join(f"{rss_mib(p.pid):.0f} MiB" for p, _ in gateways)
                print(f"gateway resident memory: {memory}")
            finally:
                for process, _ in gateways:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=20)


if __name__ == "__main__":
    main()
