"""Staff login under load, through real HTTP and a real Socket.IO customer:
- how long a wrong password takes for a known name and for an unknown one (p50, p90 each:
  they should match, or the answer time tells which names exist),
- how long a customer's message waits for its echo, alone and while N logins run at once
  (password hashing must stay off the gateway's event loop).

Starts its own gateway on a temporary database holding the services list and some seats (no
Rasa needed: only the gateway's own echo of the customer's message is timed). Every attempt
leaves from its own loopback address (127.0.x.y), so the login throttle, per name and per
address, never answers in place of the password check.

    .venv/bin/python bench/login_timing.py [--attempts 40] [--concurrent 200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
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
from kb.io import import_items
from kb.store import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench passphrase"
DEPARTMENT = "市公安局"
ACCOUNTS = 20  # the concurrent logins share these seats
MESSAGE_EVERY = 0.6  # seconds between the customer's messages (under 20 per 10 s)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def address(block: int, number: int) -> str:
    """The `number`th client address of a block: 127.0.<block>.1, .2, …, then the next block."""
    return f"127.0.{block + number // 254}.{1 + number % 254}"


def start_gateway(db: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "XIAOSHEN_DB": str(db), "XIAOSHEN_SEAT_HOURS": "always",
           "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "handoff.gateway", "--port", str(port)],
                               cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _attempt in range(150):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    sys.exit(f"Error: the gateway at {url} did not start")


def wrong_password_times(url: str, known: list[str]) -> tuple[list[float], list[float]]:
    """Seconds per failed login, known and unknown names interleaved, each from its own
    address (connection set-up is timed alike for both)."""
    timings: dict[bool, list[float]] = {True: [], False: []}
    for number, name in enumerate(known):
        for is_known in (True, False):
            wanted = name if is_known else f"nobody-{uuid.uuid4().hex[:8]}"
            source = address(1, 2 * number + is_known)
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(transport=transport, timeout=30) as http:
                start = time.perf_counter()
                response = http.post(f"{url}/api/login",
                                     json={"name": wanted, "password": "wrong password"})
                timings[is_known].append(time.perf_counter() - start)
            if response.status_code != 401:
                sys.exit(f"Error: a wrong password got {response.status_code}: {response.text}")
    return timings[True], timings[False]


class Customer:
    """A customer on Xiaoshen's page who times each message until its echo comes back."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.echoes: asyncio.Queue = asyncio.Queue()
        self.client.on("customer_echo", self.echoes.put_nowait)
        self.session = ""

    async def open(self, url: str) -> None:
        confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.client.on("session_confirm", confirmed.set_result)
        await self.client.connect(url, transports=["websocket"], auth={"client": "xiaoshen"})
        await self.client.emit("session_request", {"session_id": None})
        self.session = await asyncio.wait_for(confirmed, 10)

    async def wait_for_echo(self, number: int) -> float:
        start = time.perf_counter()
        await self.client.emit("user_uttered", {"message": f"测试{number}",
                                                "session_id": self.session})
        await asyncio.wait_for(self.echoes.get(), 60)
        return time.perf_counter() - start


async def storm(url: str, seats: list[str], count: int) -> tuple[float, list[int]]:
    """`count` right logins at once, each from its own address: (seconds, statuses)."""
    async def one(number: int) -> int:
        transport = httpx.AsyncHTTPTransport(local_address=address(10, number))
        async with httpx.AsyncClient(transport=transport, timeout=300) as http:
            response = await http.post(f"{url}/api/login", json={
                "name": seats[number % len(seats)], "password": PASSWORD})
            return response.status_code

    start = time.perf_counter()
    statuses = await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - start, list(statuses)


def run_storm(url: str, seats: list[str], count: int, results: multiprocessing.Queue) -> None:
    """In a process of its own, so the logins' clients never delay the customer's."""
    results.put(asyncio.run(storm(url, seats, count)))


async def echo_waits(url: str, seats: list[str], concurrent: int) -> None:
    customer = Customer()
    await customer.open(url)
    alone = [await customer.wait_for_echo(n) for n in range(10)]
    await asyncio.sleep(10)  # the customer's message budget refills
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    logins = spawn.Process(target=run_storm, args=(url, seats, concurrent, results))
    logins.start()
    begun = time.perf_counter()
    during: list[tuple[float, float]] = []  # (seconds into the logins, wait)
    while logins.is_alive() and results.empty():
        sent = time.perf_counter() - begun
        during.append((sent, await customer.wait_for_echo(len(during))))
        await asyncio.sleep(MESSAGE_EVERY)
    seconds, statuses = results.get()
    logins.join()
    waits = [wait for _, wait in during]
    print(f"{concurrent} concurrent right logins: all done in {seconds:.2f} s, "
          f"{statuses.count(200)} × 200, others {sorted(set(statuses) - {200}) or 'none'}")
    print(f"customer echo alone: p50 {statistics.median(alone) * 1000:.0f} ms, "
          f"max {max(alone) * 1000:.0f} ms")
    print(f"customer echo during the logins ({len(waits)} messages): "
          f"p50 {statistics.median(waits) * 1000:.0f} ms, "
          f"p95 {percentile(waits, 0.95) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms")
    slowest = sorted(during, key=lambda pair: -pair[1])[:3]
    print("slowest echoes (sent at s into the logins: wait ms): " + ", ".join(
        f"{at:.1f}: {wait * 1000:.0f}" for at, wait in slowest))
    await customer.client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=40,
                        help="wrong passwords for known names (as many for unknown ones)")
    parser.add_argument("--concurrent", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        kb = KnowledgeBase(db)
        import_items(kb, ROOT / "kb" / "seed" / "items.csv")
        staff = StaffDirectory(kb)
        known = [f"bench-{n}" for n in range(args.attempts)]
        seats = [f"bench-seat-{n}" for n in range(ACCOUNTS)]
        for name in known + seats:
            staff.add(name, "agent", PASSWORD, DEPARTMENT)
        process, url = start_gateway(db)
        try:
            known_times, unknown_times = wrong_password_times(url, known)
            for label, times in (("known", known_times), ("unknown", unknown_times)):
                print(f"wrong password, {label} names ({len(times)}): "
                      f"p50 {statistics.median(times) * 1000:.1f} ms, "
                      f"p90 {percentile(times, 0.9) * 1000:.1f} ms")
            asyncio.run(echo_waits(url, seats, args.concurrent))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
