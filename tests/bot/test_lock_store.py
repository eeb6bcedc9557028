"""Rasa's ticket locks, prompter (bot/lock_store.py): one conversation's messages still go one
at a time in order of arrival, in memory and in Redis; a waiting one looks for its turn every
POLL_SECONDS, not every second; a lone message costs four Redis commands; a store that fails
is Rasa's LockError. And through the running stack, three messages posted at once are
answered in order, each in the context the one before left."""

from __future__ import annotations

import asyncio
import subprocess
import uuid

import httpx

from tests.conftest import free_port
from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import asyncio, sys
from urllib.parse import urlparse
import rasa.core.lock_store as rasa_locks
from rasa.utils.endpoints import EndpointConfig
from bot.lock_store import POLL_SECONDS, PromptInMemoryLockStore, PromptRedisLockStore

redis = urlparse(sys.argv[1])
waits = []
real_sleep = asyncio.sleep

async def recorded_sleep(seconds):  # Rasa's wait between looks, recorded, not slept
    waits.append(seconds)
    await real_sleep(0)

rasa_locks.asyncio.sleep = recorded_sleep

async def three_at_once(store):
    order = []

    async def message(n):
        async with store.lock("c1"):
            order.append(("in", n))
            await real_sleep(0.02)  # a turn's work, during which the others wait
            order.append(("out", n))

    await asyncio.gather(*(message(n) for n in range(3)))
    return order

def store_at(port):
    return PromptRedisLockStore(EndpointConfig(url=redis.hostname, port=port, db=0))

for store in (PromptInMemoryLockStore(), store_at(redis.port)):
    waits.clear()
    order = asyncio.run(three_at_once(store))
    assert order == [(step, n) for n in range(3) for step in ("in", "out")], order
    assert waits and set(waits) == {POLL_SECONDS}, waits
    assert store.get_lock("c1") is None  # released: nothing left behind

# A message nobody waits behind: issue (GET, SET), release (GET, DEL).
store = store_at(redis.port)
commands = []
send = store.red.execute_command
store.red.execute_command = lambda *args, **options: commands.append(args[0]) or send(
    *args, **options)

async def alone():
    async with store.lock("c2"):
        pass

asyncio.run(alone())
assert commands == ["GET", "SET", "GET", "DEL"], commands

# No Redis there: Rasa's LockError, which Rasa turns into an error reply.
from rasa.core.lock_store import LockError
try:
    asyncio.run(PromptRedisLockStore(EndpointConfig(url="127.0.0.1", port=int(sys.argv[2]),
                                                    db=0, socket_timeout=1)).lock("c3")
                .__aenter__())
except LockError as error:
    assert "Error while acquiring lock" in str(error)
else:
    sys.exit("a lock without its store was granted")
"""


def test_tickets_keep_their_order_wait_briefly_and_cost_four_commands(redis_url: str) -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK, redis_url,
                             str(free_port())], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_messages_posted_at_once_are_answered_in_order(stack: str) -> None:
    sender = uuid.uuid4().hex

    async def burst() -> list[str]:
        async with httpx.AsyncClient(timeout=60) as client:
            async def say(text: str) -> str:
                reply = await client.post(f"{stack}/webhooks/rest/webhook",
                                          json={"sender": sender, "message": text})
                assert reply.status_code == 200
                return reply.json()[0]["text"]

            # Apart enough to arrive in order (posted at the same instant, their connections
            # may reach Rasa in any order), close enough to wait behind a turn (~20 ms).
            first = asyncio.create_task(say("居住证怎么办理"))
            await asyncio.sleep(0.015)
            second = asyncio.create_task(say("需要什么材料"))
            await asyncio.sleep(0.015)
            third = asyncio.create_task(say("谢谢"))
            return await asyncio.gather(first, second, third)

    how, materials, thanks = asyncio.run(burst())
    assert "居住证" in how and "流程" in how
    assert "居住证" in materials and "提供" in materials  # the follow-up kept its context
    assert "不客气" in thanks
