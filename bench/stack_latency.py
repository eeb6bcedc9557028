"""Latency and throughput of `ask` through the running stack (Rasa → actions → KB).

Run the stack first (`xiaoshen serve`), then:  .venv/bin/python bench/stack_latency.py
Prints p50/p95 for one user, for 20 conversations each sending a message every 2 s, and the
p95 at increasing open-loop message rates (the highest rate with p95 under 1 s is reported).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx

from xiaoshen import settings

DEVSET = Path(__file__).resolve().parents[1] / "eval" / "devset.jsonl"


def queries() -> list[str]:
    lines = DEVSET.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summary(name: str, latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    answered = [v for v in ms if v != float("inf")]
    mean = f"{statistics.mean(answered):7.1f} ms" if answered else "    n/a"
    return (f"{name:<44} n={len(ms):>5}  p50={percentile(ms, 0.5):7.1f} ms  "
            f"p95={percentile(ms, 0.95):7.1f} ms  mean={mean}  failed={len(ms) - len(answered)}")


async def send(client: httpx.AsyncClient, url: str, sender: str, text: str) -> float:
    """Seconds until the reply; a failed or timed-out request counts as infinitely slow, and so
    does an empty reply (what Rasa sends when an action fails)."""
    start = time.perf_counter()
    try:
        response = await client.post(url, json={"sender": sender, "message": text})
        response.raise_for_status()
    except httpx.HTTPError:
        return float("inf")
    return time.perf_counter() - start if response.json() else float("inf")


async def one_user(url: str, texts: list[str], count: int) -> list[float]:
    async with httpx.AsyncClient(timeout=30) as client:
        return [await send(client, url, f"bench-{uuid.uuid4().hex}", text)
                for text in itertools.islice(itertools.cycle(texts), count)]


async def conversations(url: str, texts: list[str], users: int, every: float,
                        seconds: float) -> list[float]:
    latencies: list[float] = []

    async def user(number: int) -> None:
        sender = f"bench-{number}-{uuid.uuid4().hex}"
        await asyncio.sleep(random.uniform(0, every))  # spread the users over the period
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            tick = time.perf_counter()
            latencies.append(await send(client, url, sender, random.choice(texts)))
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - tick)))

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        await asyncio.gather(*(user(n) for n in range(users)))
    return latencies


async def open_loop(url: str, texts: list[str], rate: float, seconds: float) -> list[float]:
    """Messages arrive at `rate` per second whatever the replies do (new conversation each)."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=500)) as client:
        tasks = []
        start = time.perf_counter()
        for number in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(
                send(client, url, f"bench-{uuid.uuid4().hex}", random.choice(texts))))
        return list(await asyncio.gather(*tasks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rates", type=float, nargs="*", default=[10, 25, 40, 50, 60, 70])
    args = parser.parse_args()
    url = settings.load().url("rasa") + "/webhooks/rest/webhook"
    texts = queries()
    random.seed(0)
    if float("inf") in asyncio.run(one_user(url, texts, 20)):  # warm-up
        sys.exit(f"Rasa at {url} did not answer every message: is the stack running "
                 "(`.venv/bin/xiaoshen serve`)?")
    print(summary("one user, sequential", asyncio.run(one_user(url, texts, 200))))
    print(summary("20 conversations, a message every 2 s",
                  asyncio.run(conversations(url, texts, 20, 2.0, args.seconds))))
    best = 0.0
    for rate in args.rates:
        latencies = asyncio.run(open_loop(url, texts, rate, min(args.seconds, 15.0)))
        print(summary(f"open loop at {rate:g} messages/s", latencies))
        if percentile(latencies, 0.95) < 1.0:
            best = rate
    print(f"highest rate sustained with p95 < 1 s: {best:g} messages/s")


if __name__ == "__main__":
    main()
