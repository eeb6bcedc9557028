"""python-socketio's client manager: none for one gateway; for several, its Redis manager,
publishing in order through one connection.

python-socketio's own `AsyncRedisManager` awaits one PUBLISH per emit on redis-py's pool.
redis-py 8's asyncio pool holds at most 100 connections and raises instead of waiting, so
more than 100 emits at once fail ("Cannot publish to redis... retrying"); the manager then
drops its client, pool and all, and builds a new one, whose 100 fresh connections each cost
a TCP handshake, a HELLO and a read of redis-py's package metadata. Under load that churn
took a third of a gateway's CPU (py-spy), and two gateways answered slower than one.

Here an emit delivers to this gateway's own sockets at once, as before, and queues its
message; one writer sends what has queued in one pipeline on one connection, so messages go
out in the order they were emitted, a burst costs one round trip, and a dropped connection
is retried with a pause instead of being replaced. An emit to one socket of this gateway
(`to=sid`) stays here: nobody else has that socket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import socketio

log = logging.getLogger(__name__)

OUTBOX = 20_000  # messages waiting for Redis; more is an outage: they are dropped, logged
BATCH = 1_000  # messages per pipeline
RETRY_PAUSES = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 2.0, 2.0)  # seconds; then a batch is dropped
PUBLISH_FAILED = "Cannot publish to redis"  # the phrase python-socketio logs, too


class RedisManager(socketio.AsyncRedisManager):
    """`AsyncRedisManager` with one ordered, pipelined publisher per process."""

    def __init__(self, url: str, channel: str = "socketio") -> None:
        super().__init__(url, channel=channel)
        self.outbox: asyncio.Queue[str] | None = None
        self.writer: asyncio.Task | None = None
        self.dropped = 0  # messages other gateways never got (each one logged)

    async def emit(self, event: str, data: Any, namespace: str | None = None,
                   room: Any = None, skip_sid: Any = None, callback: Any = None,
                   to: Any = None, **kwargs: Any) -> None:
        room = to or room
        namespace = namespace or "/"
        if isinstance(room, str) and (self.is_connected(room, namespace)
                                      or self.is_pre_connected(room, namespace)):
            kwargs["ignore_queue"] = True  # a socket of ours: deliver here only
        await super().emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                           callback=callback, **kwargs)

    async def _publish(self, data: Any) -> None:
        if self.outbox is None:
            self.outbox = asyncio.Queue(OUTBOX)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write(self.outbox))
        try:
            self.outbox.put_nowait(self.json.dumps(data))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("%s... giving up: %d messages already wait for it", PUBLISH_FAILED,
                      OUTBOX)

    async def _write(self, outbox: asyncio.Queue[str]) -> None:
        redis = self._get_redis_module().Redis.from_url(self.redis_url, **self.redis_options)
        try:
            while True:
                batch = [await outbox.get()]
                while len(batch) < BATCH and not outbox.empty():
                    batch.append(outbox.get_nowait())
                await self._send(redis, batch)
        finally:
            await redis.aclose()

    async def _send(self, redis: Any, batch: list[str]) -> None:
        for pause in (*RETRY_PAUSES, None):
            try:
                async with redis.pipeline(transaction=False) as pipe:
                    for message in batch:
                        pipe.publish(self.channel, message)
                    await pipe.execute()
                return
            except Exception as error:  # a connection error, a timeout: Redis is away
                if pause is None:
                    break
                log.warning("%s (%s)... retrying in %.2f s", PUBLISH_FAILED, error, pause)
                await asyncio.sleep(pause)
        self.dropped += len(batch)
        log.error("%s... giving up: %d messages dropped", PUBLISH_FAILED, len(batch))


def client_manager(redis_url: str) -> socketio.AsyncManager | None:
    """The manager for `AsyncServer(client_manager=…)`: None (one process) without Redis."""
    return RedisManager(redis_url) if redis_url else None
