"""The help desk under load, one gateway against two behind Redis, side by side.

Run the stack first (`xiaoshen serve`: the bench uses its Rasa), then:

    .venv/bin/python bench/gateway_load.py [--customers 200] [--seats 10] [--rate 100]

For each configuration it starts its own gateway(s) on a fresh copy of the database, seats
around the clock, logs in `--seats` seats of one department over real Socket.IO clients and
connects `--customers` customers, each from its own loopback address (the gateway limits
messages per client address), then measures:

- escalation → console: every customer asks the bot, then sends 转人工, open loop at
  `--escalation-rate` per second; the time until a console hears of the chat (its seat's
  chat_assigned, or the department's chat_queued for the `--queued` share that must wait);
  "after the bot's reply" leaves out Rasa's turn. Seats then accept the waiting chats;
- the same loads for both, `--messages` messages per customer, open loop (nobody waits for a
  reply), every seat answering each message at once: paced evenly at `--rate` messages per
  second in all, then in bursts (every customer at the same moment, `--burst-interval`
  apart, as a crowd does after a notice). Reply latency (customer's message → the seat's
  answer back, from the time the message was due), messages lost, order kept, and the CPU
  of every process meanwhile (the machine has few cores: Rasa, the gateways, Redis and
  these clients share them, and so does whatever else runs); then the Redis publish errors
  in the gateways' logs, and the gateways' memory;
- a sweep of open-loop rates (`--rates`, `--step` seconds each, over `--sweep-customers`
  customers) until p95 reaches 1 s or a message is lost; the highest rate with p95 < 1 s
  is reported.

Two gateways use `--redis URL`, or a redis-server the bench starts on a free port in a
temporary folder (and stops) when /usr/bin/redis-server exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import socketio

from handoff.staff import StaffDirectory
from kb.store import KnowledgeBase
from xiaoshen import settings

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = Path("/usr/bin/redis-server")
DEPARTMENT = "市公安局"
QUESTION = "无犯罪记录证明在哪里开"
PASSWORD = "bench passphrase 2024"
SEAT = "/seat"
PUBLISH_ERROR = "Cannot publish to redis"
MAX_PER_CUSTOMER = 1.8  # messages per second: under the gateway's 20 per 10 s per session
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- processes: who listens where, their CPU and memory ------------------------------------


def listening_pid(port: int) -> int | None:
    """The process holding the listening TCP socket on `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fds.iterdir()):
                return int(fds.parent.name)
        except OSError:
            continue
    return None


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def machine_ticks() -> int:
    """CPU time spent by everything on the machine (all cores, idle and iowait left out)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields[:3]) + sum(fields[5:8])  # user nice system, irq softirq steal


def memory_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


class CpuMeter:
    """CPU per watched process over a span of time, as a share of one core."""

    def __init__(self, watched: dict[str, int | None]) -> None:
        self.watched = {name: pid for name, pid in watched.items() if pid}

    def __enter__(self) -> CpuMeter:
        self.start = time.monotonic()
        self.before = {name: cpu_ticks(pid) for name, pid in self.watched.items()}
        self.machine = machine_ticks()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.start
        used = {name: cpu_ticks(pid) - self.before[name] for name, pid in self.watched.items()}
        used["others on the machine"] = max(0, machine_ticks() - self.machine - sum(
            used.values()))
        self.shares = {name: ticks / TICKS / seconds * 100 for name, ticks in used.items()}


# -- the servers the bench starts ----------------------------------------------------------


@contextmanager
def redis_server(url: str | None) -> Iterator[tuple[str, int | None]]:
    """The given Redis, or a private redis-server on a free port (stopped afterwards)."""
    if url:
        port = int(url.split("://", 1)[1].split("/")[0].rsplit(":", 1)[-1] or 6379)
        yield url, listening_pid(port)
        return
    if not REDIS_SERVER.exists():
        sys.exit("Error: two gateways need Redis: pass --redis URL or install redis-server")
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        process = subprocess.Popen([str(REDIS_SERVER), "--port", str(port), "--bind",
                                    "127.0.0.1", "--dir", folder, "--save", "",
                                    "--appendonly", "no"], stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0", process.pid
        finally:
            process.terminate()
            process.wait(timeout=10)


@dataclass
class Gateway:
    process: subprocess.Popen
    url: str
    log: Path

    def publish_errors(self) -> int:
        return sum(PUBLISH_ERROR in line for line in self.log.read_text(
            errors="replace").splitlines())


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL included)."""
    with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
        original.backup(copy)


@contextmanager
def gateways(db: Path, count: int, redis: str) -> Iterator[list[Gateway]]:
    started = []
    env = {**os.environ, "XIAOSHEN_DB": str(db), "XIAOSHEN_SEAT_HOURS": "always",
           "XIAOSHEN_REDIS_URL": redis, "PYTHONPATH": str(ROOT)}
    try:
        for number in range(count):
            port = free_port()
            log = db.with_name(f"gateway-{number + 1}.log")
            with log.open("w") as output:
                process = subprocess.Popen([sys.executable, "-m", "handoff.gateway", "--port",
                                            str(port)], cwd=ROOT, env=env, stdout=output,
                                           stderr=subprocess.STDOUT)
            started.append(Gateway(process, f"http://127.0.0.1:{port}", log))
        for gateway in started:
            wait_healthy(gateway)
        yield started
    finally:
        for gateway in started:
            gateway.process.send_signal(signal.SIGTERM)
        for gateway in started:
            try:
                gateway.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gateway.process.kill()


def wait_healthy(gateway: Gateway) -> None:
    for _ in range(300):
        if gateway.process.poll() is not None:
            break
        try:
            if httpx.get(gateway.url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"Error: the gateway at {gateway.url} did not start; its log:\n"
             + gateway.log.read_text(errors="replace")[-3000:])


# -- the people: seats and customers over real Socket.IO clients ---------------------------


@dataclass
class Desk:
    """What the consoles saw, shared by all seats (times from time.perf_counter())."""
    noticed: dict[str, float] = field(default_factory=dict)  # conversation → first notice
    assigned: dict[str, str] = field(default_factory=dict)  # conversation → seat
    received: dict[str, float] = field(default_factory=dict)  # message text → at a seat
    order: dict[str, list[str]] = field(default_factory=dict)  # conversation → texts
    replied: dict[str, float] = field(default_factory=dict)  # message text → answer back

    def notice(self, conversation_id: str) -> None:
        self.noticed.setdefault(conversation_id, time.perf_counter())


def login(url: str, name: str) -> dict[str, Any]:
    """Log a seat in: the new gateway sets a cookie, the old one answered a token."""
    response = httpx.post(url + "/api/login", json={"name": name, "password": PASSWORD},
                          timeout=30)
    response.raise_for_status()
    cookie = response.cookies.get("xiaoshen_staff")
    if cookie:
        return {"headers": {"Cookie": f"xiaoshen_staff={cookie}"}}
    return {"auth": {"token": response.json()["token"]}}


class Seat:
    """A seat that answers every customer message at once, echoing its text."""

    def __init__(self, url: str, name: str, desk: Desk) -> None:
        self.url, self.name, self.desk = url, name, desk
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("chat_assigned", self.assigned, namespace=SEAT)
        self.client.on("chat_queued", self.queued, namespace=SEAT)
        self.client.on("customer_message", self.message, namespace=SEAT)

    async def connect(self) -> None:
        credentials = await asyncio.to_thread(login, self.url, self.name)
        await self.client.connect(self.url, namespaces=[SEAT], transports=["websocket"],
                                  **credentials)

    async def assigned(self, data: dict) -> None:
        conversation_id = data["conversation"]["id"]
        self.desk.notice(conversation_id)
        self.desk.assigned[conversation_id] = self.name

    async def queued(self, data: dict) -> None:
        self.desk.notice(data["id"])

    async def message(self, data: dict) -> None:
        text = data.get("body") or data.get("text") or ""
        self.desk.received.setdefault(text, time.perf_counter())
        self.desk.order.setdefault(data["conversation_id"], []).append(text)
        await self.client.emit("seat_message", {"conversation_id": data["conversation_id"],
                                                "text": "答复：" + text}, namespace=SEAT)


class Customer:
    """A citizen on Xiaoshen's own chat page, from a loopback address of their own."""

    def __init__(self, url: str, address: str, desk: Desk) -> None:
        self.url, self.desk, self.address = url, desk, address
        self.http: aiohttp.ClientSession | None = None
        self.client = socketio.AsyncClient(reconnection=False, http_session=self.bound_session)
        self.session = ""
        self.confirmed = asyncio.Event()
        self.answered = asyncio.Event()  # the bot replied
        self.handoff_at = 0.0  # when the bot's 转人工 reply arrived
        self.asked_at = 0.0  # when 转人工 was due
        self.replies: list[str] = []  # the seat's answers, in the order they came
        self.client.on("session_confirm", self.confirm)
        self.client.on("bot_uttered", self.uttered)

    def bound_session(self) -> aiohttp.ClientSession:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=(self.address, 0)))
        return self.http

    async def close(self) -> None:
        await self.client.disconnect()
        if self.http:
            await self.http.close()

    async def confirm(self, session: str) -> None:
        self.session = session
        self.confirmed.set()

    async def uttered(self, data: dict) -> None:
        if data.get("sender") == "bot":
            self.answered.set()
            if data.get("outcome") == "handoff" and not self.handoff_at:
                self.handoff_at = time.perf_counter()
        if data.get("sender") == "seat":
            text = data.get("text", "").removeprefix("答复：")
            self.desk.replied.setdefault(text, time.perf_counter())
            self.replies.append(text)

    async def start(self) -> None:
        await self.client.connect(self.url, transports=["websocket"],
                                  auth={"client": "xiaoshen"})
        await self.client.emit("session_request", {})
        await asyncio.wait_for(self.confirmed.wait(), 60)

    async def say(self, text: str) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session})


def loopback(number: int) -> str:
    """127.0.1.1, 127.0.1.2, …: one address per customer."""
    return f"127.1.{number // 250}.{number % 250 + 1}"


async def gather_limited(coroutines: list, limit: int = 20) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(coroutine: Any) -> None:
        async with gate:
            await coroutine
    await asyncio.gather(*(one(c) for c in coroutines))


async def until(condition: Any, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# -- the phases ----------------------------------------------------------------------------


@dataclass
class Load:
    """One open-loop run: the messages it sent and what came of them."""
    rate: float  # messages per second on average
    lag: float = 0.0  # how late the bench sent its latest message (seconds)
    latencies: list[float] = field(default_factory=list)  # ms, answered messages
    lost_to_seats: int = 0
    replies_lost: int = 0
    order_kept: bool = True
    cpu: dict[str, float] = field(default_factory=dict)  # process → % of a core

    @property
    def p95(self) -> float:
        return percentile(self.latencies, .95)

    @property
    def lost(self) -> int:
        return self.lost_to_seats + self.replies_lost


async def open_loop(people: list[Customer], desk: Desk, schedule: list[float], tag: str,
                    drain: float) -> Load:
    """Message j, to customer j mod len(people), is sent `schedule[j]` seconds after the
    start, whether or not earlier ones were answered; latency counts from when it was due."""
    due: dict[str, float] = {}
    expected: dict[str, list[str]] = {person.session: [] for person in people}
    start, lag = time.perf_counter() + 0.2, 0.0
    for number, offset in enumerate(schedule):
        when = start + offset
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag = max(lag, -delay)
        person = people[number % len(people)]
        text = f"{tag}-{number}"
        due[text] = when
        expected[person.session].append(text)
        await person.say(text)
    await until(lambda: all(text in desk.replied for text in due), drain)
    load = Load(len(schedule) / max(schedule[-1], 1e-9) if len(schedule) > 1 else 0, lag)
    load.latencies = [(desk.replied[text] - when) * 1000 for text, when in due.items()
                      if text in desk.replied]
    load.lost_to_seats = sum(text not in desk.received for text in due)
    load.replies_lost = sum(text not in desk.replied for text in due)
    load.order_kept = all(
        [t for t in desk.order.get(person.session, []) if t in due] == expected[person.session]
        and [t for t in person.replies if t in due] == expected[person.session]
        for person in people)
    return load


def paced(rate: float, count: int) -> list[float]:
    return [number / rate for number in range(count)]


def bursts(customers: int, rounds: int, interval: float) -> list[float]:
    """Every customer at the same moment, `rounds` times (what the first bench did)."""
    return [number // customers * interval for number in range(customers * rounds)]


async def measured(watched: dict[str, int | None], load: Any) -> Load:
    with CpuMeter(watched) as meter:
        result = await load
    result.cpu = meter.shares
    return result


@dataclass
class Result:
    gateways: int
    escalation: list[float] = field(default_factory=list)  # ms, 转人工 → console
    after_bot: list[float] = field(default_factory=list)  # ms, bot's reply → console
    escalations_unseen: int = 0
    queued: int = 0
    seatless: int = 0  # customers who never got a seat (left out of the loads)
    paced: Load = field(default_factory=lambda: Load(0))
    burst: Load = field(default_factory=lambda: Load(0))
    publish_errors: int = 0
    memory: list[tuple[float, float]] = field(default_factory=list)  # (RSS, peak) MiB
    sweep: list[Load] = field(default_factory=list)

    @property
    def best_rate(self) -> float | None:
        passed = [load.rate for load in self.sweep if load.p95 < 1000 and not load.lost]
        return max(passed) if passed else None


async def escalate(people: list[Customer], desk: Desk, rate: float,
                   result: Result | None = None) -> None:
    """Everyone asks the bot first (untimed), then 转人工 at `rate` per second."""
    async def ask(person: Customer) -> None:
        person.answered.clear()
        await person.say(QUESTION)
        await asyncio.wait_for(person.answered.wait(), 60)
    await gather_limited([ask(person) for person in people], 10)
    start = time.perf_counter() + 0.2
    for number, person in enumerate(people):
        person.asked_at = start + number / rate
        await asyncio.sleep(max(0.0, person.asked_at - time.perf_counter()))
        await person.say("转人工")
    await until(lambda: all(p.session in desk.noticed for p in people), 60)
    if result is None:
        return
    for person in people:
        seen = desk.noticed.get(person.session)
        if seen is None:
            result.escalations_unseen += 1
            continue
        result.escalation.append((seen - person.asked_at) * 1000)
        if person.handoff_at:
            result.after_bot.append((seen - person.handoff_at) * 1000)


async def accept_waiting(people: list[Customer], seats: list[Seat], desk: Desk) -> int:
    """The seats take every chat still waiting, so every customer has a seat; how many
    waited. Those who still have none are told on stderr (and left out of the loads)."""
    await asyncio.sleep(0.5)
    waiting = [p.session for p in people if p.session not in desk.assigned]
    for number, conversation_id in enumerate(waiting):
        seat = seats[number % len(seats)]
        answer = await seat.client.call("accept", {"conversation_id": conversation_id},
                                        namespace=SEAT, timeout=30)
        if not (isinstance(answer, dict) and answer.get("ok")):
            print(f"   accept {conversation_id}: {answer}", file=sys.stderr)
    await until(lambda: all(p.session in desk.assigned for p in people), 30)
    return len(waiting)


async def connect_customers(urls: list[str], desk: Desk, first: int,
                            count: int) -> list[Customer]:
    people = [Customer(urls[(i + 1) % len(urls)], loopback(i), desk)
              for i in range(first, first + count)]
    await gather_limited([person.start() for person in people], 20)
    return people


async def run(urls: list[str], db: Path, args: argparse.Namespace,
              watched: dict[str, int | None]) -> Result:
    result = Result(len(urls))
    desk = Desk()
    directory = StaffDirectory(KnowledgeBase(db))
    served = round(args.customers * (1 - args.queued))
    capacity = max(1, -(-served // args.seats))  # so about `--queued` of the chats wait
    names = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(args.seats)]
    for name in names:
        directory.add(name, "agent", PASSWORD, DEPARTMENT, capacity=capacity)
    seats = [Seat(urls[i % len(urls)], name, desk) for i, name in enumerate(names)]
    await gather_limited([seat.connect() for seat in seats], 5)
    people = await connect_customers(urls, desk, 0, args.customers)
    print(f"   {len(seats)} seats, {len(people)} customers connected; escalating",
          file=sys.stderr)
    await escalate(people, desk, args.escalation_rate, result)
    result.queued = await accept_waiting(people, seats, desk)
    everyone = people
    people = [p for p in people if p.session in desk.assigned]
    result.seatless = len(everyone) - len(people)

    count = len(people) * args.messages
    print(f"   {count} messages at {args.rate:g}/s", file=sys.stderr)
    result.paced = await measured(watched, open_loop(
        people, desk, paced(args.rate, count), "paced", 30))
    await asyncio.sleep(10)  # the gateway's per-session window (10 s) empties
    print(f"   {args.messages} bursts of {len(people)} messages", file=sys.stderr)
    result.burst = await measured(watched, open_loop(
        people, desk, bursts(len(people), args.messages, args.burst_interval), "burst", 30))
    if args.sweep_customers > len(everyone):  # more, so the sweep can go faster
        more = await connect_customers(urls, desk, len(everyone),
                                       args.sweep_customers - len(everyone))
        await escalate(more, desk, 4 * args.escalation_rate)
        await accept_waiting(more, seats, desk)
        everyone += more
        people += [p for p in more if p.session in desk.assigned]
    for step, rate in enumerate(r for r in args.rates if r <= MAX_PER_CUSTOMER * len(people)):
        await asyncio.sleep(5)  # the last step's stragglers, and the session limit's window
        load = await open_loop(people, desk, paced(rate, round(rate * args.step)),
                               f"step{step}", 10)
        load.rate = rate
        result.sweep.append(load)
        print(f"   {rate:g}/s: p95 {load.p95:.0f} ms, lost {load.lost}", file=sys.stderr)
        if load.p95 >= 1000 or load.lost:
            break
    for person in everyone:
        await person.close()
    for seat in seats:
        await seat.client.disconnect()
    return result


def measure(name: str, count: int, redis: str, redis_pid: int | None,
            args: argparse.Namespace, config: settings.Settings) -> Result:
    print(f"== {name}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        copy_database(config.db, db)
        with gateways(db, count, redis if count > 1 else "") as started:
            watched: dict[str, int | None] = {
                f"gateway {n + 1}": g.process.pid for n, g in enumerate(started)}
            watched |= {"Rasa": listening_pid(config.rasa_port),
                        "actions": listening_pid(config.actions_port),
                        "redis-server": redis_pid if count > 1 else None,
                        "bench clients": os.getpid()}
            result = asyncio.run(run([g.url for g in started], db, args, watched))
            result.memory = [(memory_mib(g.process.pid), memory_mib(g.process.pid, "VmHWM"))
                             for g in started]
        result.publish_errors = sum(g.publish_errors() for g in started)
        for g in started:
            shutil.copy(g.log, args.logs / f"{name.split()[0]}-{g.log.name}")
    return result


# -- the report ----------------------------------------------------------------------------


def table(results: list[tuple[str, Result]], args: argparse.Namespace) -> str:
    def ms(values: list[float], *shares: float) -> str:
        return " / ".join(f"{percentile(values, s):.0f}" for s in shares) if values else "–"

    rows: list[tuple[str, list[str]]] = [
        (f"escalation → console p50 / p99 ms (n={args.customers})",
         [ms(r.escalation, .5, .99) for _, r in results]),
        ("  of which after the bot's reply p50 / p99 ms",
         [ms(r.after_bot, .5, .99) for _, r in results]),
        ("  escalations no console heard of", [str(r.escalations_unseen) for _, r in results]),
        ("  chats that waited in the queue", [str(r.queued) for _, r in results]),
        ("  customers who never got a seat", [str(r.seatless) for _, r in results]),
    ]
    loads = (("paced", f"{args.rate:g} msg/s evenly"),
             ("burst", f"{args.messages} bursts, every customer at once, "
                       f"{args.burst_interval:g} s apart"))
    for key, title in loads:
        runs = [getattr(r, key) for _, r in results]
        rows += [
            (f"{title}: reply p50 / p95 / p99 ms", [ms(x.latencies, .5, .95, .99) for x in runs]),
            ("  messages lost to seats / replies lost",
             [f"{x.lost_to_seats} / {x.replies_lost}" for x in runs]),
            ("  order kept", [str(x.order_kept) for x in runs]),
            ("  bench's worst send lag ms", [f"{x.lag * 1000:.0f}" for x in runs]),
        ]
        names = sorted({name for x in runs for name in x.cpu}, key=lambda n: (
            n == "others on the machine", n == "bench clients", n))
        rows += [(f"  CPU % of a core: {process}",
                  [f"{x.cpu[process]:.0f}" if process in x.cpu else "–" for x in runs])
                 for process in names]
    rows += [
        ("Redis publish errors (gateways' logs)", [str(r.publish_errors) for _, r in results]),
        ("gateway RSS / peak MiB", [", ".join(f"{rss:.0f}/{peak:.0f}" for rss, peak in r.memory)
                                    for _, r in results]),
    ]
    rows.append(("highest open-loop rate with p95 < 1 s, msg/s",
                 [("≥ " if r.sweep and r.best_rate == r.sweep[-1].rate else "")
                  + f"{r.best_rate:g}" if r.best_rate else "none" for _, r in results]))
    rates = sorted({load.rate for _, r in results for load in r.sweep})
    for rate in rates:
        cells = []
        for _, r in results:
            load = next((x for x in r.sweep if x.rate == rate), None)
            cells.append(f"{load.p95:.0f}" + (f" ({load.lost} lost)" if load.lost else "")
                         if load else "–")
        rows.append((f"  p95 ms at {rate:g}/s", cells))
    width = max(len(label) for label, _ in rows)
    cell = max(24, *(len(c) for _, cells in rows for c in cells))
    lines = [f"{'':<{width}}  " + "  ".join(f"{name:>{cell}}" for name, _ in results)]
    lines += [f"{label:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in cells)
              for label, cells in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seats", type=int, default=10)
    parser.add_argument("--messages", type=int, default=10, help="per customer, at --rate")
    parser.add_argument("--rate", type=float, default=100, help="messages/s in all")
    parser.add_argument("--burst-interval", type=float, default=0.3,
                        help="seconds between the bursts of the burst load")
    parser.add_argument("--escalation-rate", type=float, default=10, help="转人工 per second")
    parser.add_argument("--queued", type=float, default=0.5,
                        help="share of the chats that wait in the queue when escalated")
    parser.add_argument("--rates", default="50,100,200,300,400,500,600,700",
                        help="open-loop rates to sweep, messages/s")
    parser.add_argument("--sweep-customers", type=int, default=400,
                        help="customers sending in the sweep (at most 1.8 messages/s each)")
    parser.add_argument("--step", type=float, default=8, help="seconds per swept rate")
    parser.add_argument("--redis", help="Redis URL for two gateways (default: start one)")
    parser.add_argument("--only", choices=["one", "two"], help="run one configuration")
    parser.add_argument("--logs", type=Path, default=Path(tempfile.gettempdir()),
                        help="where to keep the gateways' logs")
    args = parser.parse_args()
    args.rates = [float(rate) for rate in args.rates.split(",")]
    config = settings.load()
    try:
        httpx.get(config.url("rasa") + "/status", timeout=5).raise_for_status()
    except httpx.HTTPError:
        sys.exit(f"Error: no Rasa at {config.url('rasa')}; start the stack first (xiaoshen serve)")
    results = []
    with redis_server(args.redis) as (redis, redis_pid):
        for name, count in (("one gateway", 1), ("two gateways + Redis", 2)):
            if args.only in (None, name.split()[0]):
                results.append((name, measure(name, count, redis, redis_pid, args, config)))
    print(f"{args.customers} customers, {args.seats} seats, {os.cpu_count()} cores; "
          f"{args.messages} messages per customer in each load; sweep over "
          f"{max(args.sweep_customers, args.customers)} customers, {args.step:g} s a rate")
    print(table(results, args))


if __name__ == "__main__":
    main()
