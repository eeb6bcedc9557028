"""Where a bot turn's milliseconds go, per process: with XIAOSHEN_TURN_TIMING set to a file,
Rasa and the action server each append one JSON line per turn there (`bench/turn_profile.py`
reads them). Nothing is wrapped without the variable. Standard library only: Rasa's own
environment imports it too.

    {"service": "rasa", "sender": …, "events": <tracker events sent>, "action_bytes": <body>,
     "ms": {"total", "tracker_load", "nlu", "policies", "action_call", "action_body",
            "tracker_save"}}
    {"service": "actions", "sender": …, "action": …,
     "ms": {"total", "parse", "context", "embed", "retrieval", "classifier", "db_write"}}

`action_body` is building the action server's request from the tracker; `action_call` the
whole call, that included; `parse` rasa-sdk's reading of the tracker it was sent.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import json
import os
import time
from collections.abc import Callable
from typing import Any

TIMING_ENV = "XIAOSHEN_TURN_TIMING"

_turn: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "xiaoshen_turn", default=None)


def _add(stage: str, started: float) -> None:
    turn = _turn.get()
    if turn is not None:
        turn["ms"][stage] = turn["ms"].get(stage, 0.0) + (time.perf_counter() - started) * 1000


def timed(owner: Any, name: str, stage: str) -> None:
    """Wrap `owner.name` (a class's or an object's; sync or async) so that its time adds to
    `stage` of the current turn."""
    original: Callable[..., Any] = getattr(owner, name)
    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                _add(stage, started)
    else:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                _add(stage, started)
    # A classmethod is wrapped bound, so it stays callable on the class.
    bound = inspect.ismethod(original) and isinstance(original.__self__, type)
    setattr(owner, name, staticmethod(wrapper) if bound else wrapper)


def turn_of(owner: type, name: str, path: str, describe: Callable[..., dict[str, Any]]) -> None:
    """Make each call of the async `owner.name` one turn: its stages, `describe(*args)` and
    its total, appended to `path` as a JSON line."""
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        turn = {**describe(*args), "ms": {}}
        token = _turn.set(turn)
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _add("total", started)
            _turn.reset(token)
            with open(path, "a", encoding="utf-8") as log:
                log.write(json.dumps(turn) + "\n")

    setattr(owner, name, wrapper)


def install_rasa(path: str) -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.processor import MessageProcessor

    from bot.tracker_store import TurnTrackerStore

    timed(MessageProcessor, "parse_message", "nlu")
    timed(MessageProcessor, "_predict_next_with_tracker", "policies")
    timed(RemoteAction, "run", "action_call")
    timed(TurnTrackerStore, "retrieve", "tracker_load")
    timed(TurnTrackerStore, "save", "tracker_save")
    timed(RemoteAction, "_action_call_format", "action_body")
    build_body = RemoteAction._action_call_format

    def action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        body = build_body(self, tracker, domain)
        turn = _turn.get()
        if turn is not None:  # outside every stage: the size costs one more dump
            turn["action_bytes"] = len(json.dumps(body).encode())
            turn["events"] = len(body["tracker"]["events"] or [])
        return body

    RemoteAction._action_call_format = action_call_format
    turn_of(MessageProcessor, "handle_message", path,
            lambda processor, message: {"service": "rasa", "sender": message.sender_id})


def install_actions(path: str, services: Any) -> None:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import ActionExecutor

    from actions.context import Context
    from kb.classifier import ServiceClassifier
    from kb.index import HybridIndex
    from kb.turns import TurnLog

    timed(Tracker, "from_dict", "parse")
    timed(Context, "of", "context")
    timed(services.retriever.embedder, "encode", "embed")
    timed(HybridIndex, "search", "retrieval")
    timed(ServiceClassifier, "guess", "classifier")
    timed(TurnLog, "record", "db_write")
    turn_of(ActionExecutor, "run", path,
            lambda executor, call, *rest: {"service": "actions", "sender": call.get("sender_id"),
                                           "action": call.get("next_action")})


def path_from_env() -> str | None:
    return os.environ.get(TIMING_ENV) or None
