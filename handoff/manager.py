"""python-socketio's client manager: none for one gateway, its Redis manager for several."""

from __future__ import annotations

import socketio


def client_manager(redis_url: str) -> socketio.AsyncManager | None:
    return socketio.AsyncRedisManager(redis_url) if redis_url else None
