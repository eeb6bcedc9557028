"""Where a bot turn's milliseconds go, on turn 1 and on turn 80 of one conversation.

Starts its own stack (`xiaoshen serve` on free ports, over a copy of the knowledge base and
its index, an empty tracker store, and a private redis-server as Rasa's lock store when
/usr/bin/redis-server exists) with XIAOSHEN_TURN_TIMING set, so Rasa and the action server
log each turn's stages (xiaoshen/turn_timing.py). A citizen talks to the gateway over
Socket.IO, one message every 0.6 s (under the gateway's 20 per 10 s): the dev conversations'
turns one after another (questions, follow-ups, clarifications, thanks); the gateway's share is
the round trip minus Rasa's handling. With `--channel rest` the citizen posts to Rasa's REST
channel instead (how the issue measured a turn): the outside share is then HTTP alone.

    .venv/bin/python bench/turn_profile.py [--turns 80] [--conversations 3] [--channel rest]

Prints each stage for turn 1 and turn 80 (medians over the conversations) and over turns
1–10 and the last 10, the round trip's p50 on both, the whole run's p95, and Rasa's own NLU
parse p50 (/model/parse) measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import socketio

from xiaoshen import settings
from xiaoshen.secrets import load_or_create
from xiaoshen.turn_timing import TIMING_ENV

ROOT = settings.ROOT
CONVERSATIONS = ROOT / "eval" / "conversations.jsonl"  # questions with their follow-ups
REDIS = Path("/usr/bin/redis-server")
HANDING_OVER = {"request_human", "affirm", "feedback_unresolved"}
PAUSE = 0.6  # seconds between a reply and the next message
RASA_STAGES = ["tracker_load", "nlu", "policies", "action_body", "action_call", "tracker_save"]
OUTSIDE = "outside Rasa (gateway or HTTP)"  # the round trip less Rasa's handling
ACTION_STAGES = ["parse", "context", "embed", "retrieval", "classifier", "db_write"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def copy_base(home: Path) -> dict[str, str]:
    """The live base, its index and embedding cache, copied into `home`."""
    config = settings.load()
    with sqlite3.connect(config.db) as source, sqlite3.connect(home / "kb.db") as target:
        source.backup(target)
    shutil.copytree(config.index_dir, home / "index")
    cache = config.index_dir.with_name("index-vectors.db")
    if cache.is_file():
        shutil.copy(cache, home / "index-vectors.db")
    return {"XIAOSHEN_DB": str(home / "kb.db"), "XIAOSHEN_INDEX_DIR": str(home / "index")}


@contextmanager
def redis_server() -> Iterator[str | None]:
    if not REDIS.exists():
        yield None
        return
    port = free_port()
    process = subprocess.Popen([str(REDIS), "--port", str(port), "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


@contextmanager
def stack(home: Path, redis_url: str | None) -> Iterator[settings.Settings]:
    env = {**os.environ, **copy_base(home), TIMING_ENV: str(home / "timing.jsonl"),
           "XIAOSHEN_RASA_PORT": str(free_port()), "XIAOSHEN_ACTIONS_PORT": str(free_port()),
           "XIAOSHEN_GATEWAY_PORT": str(free_port()), "XIAOSHEN_REDIS_URL": redis_url or ""}
    config = settings.load(env)
    with open(home / "serve.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                                   env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while subprocess.run([sys.executable, "-m", "xiaoshen.cli", "status"], env=env,
                                 capture_output=True).returncode != 0:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the stack did not start; see {home / 'serve.log'}")
                time.sleep(1)
            yield config
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


class Citizen:
    """A chat page's Socket.IO client: says something, waits for the bot's reply to it."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        for name in ("session_confirm", "customer_echo", "bot_uttered"):
            self.client.on(name, lambda data, name=name: self.events.put_nowait((name, data)))

    async def next(self, wanted: str) -> Any:
        while True:
            name, data = await asyncio.wait_for(self.events.get(), 30)
            if name == wanted:
                return data

    async def open(self, url: str) -> str:
        await self.client.connect(url, transports=["websocket"], auth={"client": "xiaoshen"})
        await self.client.emit("session_request", {"session_id": None})
        self.session = await self.next("session_confirm")
        return self.session

    async def say(self, text: str) -> float:
        """Seconds from sending `text` to the bot's reply to it."""
        started = time.perf_counter()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session})
        asked = (await self.next("customer_echo"))["id"]
        got = []
        try:
            while (reply := await self.next("bot_uttered")).get("reply_to") != asked:
                got.append((reply.get("sender"), reply.get("text")))
        except TimeoutError:
            raise SystemExit(f"no reply to {text!r} in 30 s (got {got})") from None
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.client.disconnect()


class RestCitizen:
    """A client of Rasa's REST channel: posts a message, the reply is the response."""

    async def open(self, url: str) -> str:
        self.url = f"{url}/webhooks/rest/webhook"
        self.session = uuid.uuid4().hex
        self.client = httpx.AsyncClient(timeout=30)
        return self.session

    async def say(self, text: str) -> float:
        started = time.perf_counter()
        reply = await self.client.post(self.url, json={"sender": self.session, "message": text})
        reply.raise_for_status()
        return time.perf_counter() - started

    async def close(self) -> None:
        await self.client.aclose()


def read_new(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    if not path.exists():
        return [], offset
    with open(path, encoding="utf-8") as log:
        log.seek(offset)
        lines = [json.loads(line) for line in log if line.strip()]
        return lines, log.tell()


def turn_row(round_trip: float, lines: list[dict[str, Any]]) -> dict[str, float]:
    """One turn's stages in ms: Rasa's, the action server's (summed over its action calls)
    and the gateway's (the round trip less Rasa's handling)."""
    row: dict[str, float] = {"round_trip": round_trip * 1000}
    rasa = [line for line in lines if line["service"] == "rasa"]
    actions = [line for line in lines if line["service"] == "actions"]
    for line in rasa:
        for stage, ms in line["ms"].items():
            row[f"rasa.{stage}"] = row.get(f"rasa.{stage}", 0.0) + ms
        row["events sent"] = row.get("events sent", 0) + line.get("events", 0)
        row["action bytes"] = row.get("action bytes", 0) + line.get("action_bytes", 0)
    for line in actions:
        for stage, ms in line["ms"].items():
            row[f"actions.{stage}"] = row.get(f"actions.{stage}", 0.0) + ms
    row[OUTSIDE] = row["round_trip"] - row.get("rasa.total", 0.0)
    return row


async def conversation(config: settings.Settings, texts: list[str], turns: int,
                       timing: Path, channel: str) -> list[dict[str, float]]:
    """One conversation saying `texts[:turns]` (each conversation other texts: the action
    server keeps the vectors of texts it has seen)."""
    if channel == "rest":
        citizen: Citizen | RestCitizen = RestCitizen()
        await citizen.open(config.url("rasa"))
    else:
        citizen = Citizen()
        await citizen.open(config.url("gateway"))
    _, offset = read_new(timing, 0)
    rows = []
    try:
        for number in range(turns):
            round_trip = await citizen.say(texts[number])
            await asyncio.sleep(0.05)  # the timing lines are written as the turn ends
            lines, offset = read_new(timing, offset)
            rows.append(turn_row(round_trip, lines))
            await asyncio.sleep(PAUSE)
    finally:
        await citizen.close()
    return rows


def bot_texts(config: settings.Settings, texts: list[str]) -> list[str]:
    """The texts Rasa reads as something else than a wish for a human seat (a conversation
    handed to a seat has no more bot turns)."""
    token = load_or_create(config).rasa_token
    with httpx.Client(timeout=30) as client:
        return [text for text in texts
                if client.post(f"{config.url('rasa')}/model/parse", params={"token": token},
                               json={"text": text}).json()["intent"]["name"] not in HANDING_OVER]


def parse_p50(config: settings.Settings, texts: list[str], count: int = 200) -> float:
    """Rasa's own NLU parse (its /model/parse), ms."""
    token = load_or_create(config).rasa_token
    with httpx.Client(timeout=30) as client:
        times = []
        for number in range(count):
            started = time.perf_counter()
            client.post(f"{config.url('rasa')}/model/parse", params={"token": token},
                        json={"text": texts[number % len(texts)]}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def median_of(rows: list[dict[str, float]], key: str) -> float:
    values = [row.get(key, 0.0) for row in rows]
    return statistics.median(values) if values else 0.0


def report(runs: list[list[dict[str, float]]], parse: list[float]) -> None:
    first = [run[0] for run in runs]
    last = [run[-1] for run in runs]
    head = [row for run in runs for row in run[:10]]
    tail = [row for run in runs for row in run[-10:]]
    keys = (["round_trip", OUTSIDE, "rasa.total"]
            + [f"rasa.{s}" for s in RASA_STAGES] + ["actions.total"]
            + [f"actions.{s}" for s in ACTION_STAGES] + ["events sent", "action bytes"])
    turns = len(runs[0])
    print(f"{'ms (medians over ' + str(len(runs)) + ' conversations)':<34}"
          f"{'turn 1':>10}{f'turn {turns}':>10}{'turns 1-10':>12}{'last 10':>10}")
    for key in keys:
        print(f"{key:<34}" + "".join(f"{median_of(rows, key):>{width}.1f}" for rows, width in
                                     ((first, 10), (last, 10), (head, 12), (tail, 10))))
    trips = [row["round_trip"] for run in runs for row in run]
    head_p50, tail_p50 = median_of(head, "round_trip"), median_of(tail, "round_trip")
    parse_ms = statistics.median(parse)
    print(f"round trip p50: turns 1-10 {head_p50:.1f} ms, last 10 {tail_p50:.1f} ms "
          f"(×{tail_p50 / head_p50:.2f}; target ≤ 1.3)")
    print(f"round trip p95 over all {len(trips)} turns: {percentile(trips, 0.95):.1f} ms; "
          f"Rasa's parse p50 {parse_ms:.1f} ms (×{percentile(trips, 0.95) / parse_ms:.1f}; "
          f"target ≤ 5)")
    rasa = [row["rasa.total"] for run in runs for row in run]
    print(f"Rasa's handling p95: {percentile(rasa, 0.95):.1f} ms "
          f"(×{percentile(rasa, 0.95) / parse_ms:.1f} its parse p50)")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=80)
    parser.add_argument("--conversations", type=int, default=3)
    parser.add_argument("--channel", choices=["socketio", "rest"], default="socketio",
                        help="the gateway's Socket.IO (default) or Rasa's REST channel")
    parser.add_argument("--rows", type=Path, help="also write every turn's stages here (JSON)")
    args = parser.parse_args()
    texts = [turn["text"] for line in CONVERSATIONS.read_text(encoding="utf-8").splitlines()
             if line.strip() for turn in json.loads(line)["turns"]]
    with tempfile.TemporaryDirectory(prefix="turn-profile-") as folder, \
            redis_server() as redis_url, stack(Path(folder), redis_url) as config:
        timing = Path(folder) / "timing.jsonl"
        texts = bot_texts(config, texts)
        print(f"load at start: {os.getloadavg()[0]:.2f}; lock store: "
              f"{'redis' if redis_url else 'in memory'}; tracker store: SQL ({config.tracker_url})")
        if len(texts) < 5 + args.turns * args.conversations:
            raise SystemExit(f"only {len(texts)} texts: fewer turns or conversations")
        print(f"channel: {args.channel}")
        asyncio.run(conversation(config, texts[-5:], 5, timing, args.channel))  # warm-up
        runs, parse = [], []
        for number in range(args.conversations):
            parse.append(parse_p50(config, texts))
            runs.append(asyncio.run(conversation(config, texts[number * args.turns:],
                                                 args.turns, timing, args.channel)))
        report(runs, parse)
        if args.rows:
            args.rows.write_text(json.dumps({"runs": runs, "parse_p50": parse}), "utf-8")


if __name__ == "__main__":
    main()
