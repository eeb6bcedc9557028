"""A conversation's sessions stay short (bot/bounded_tracker.py), the tracker store
(bot/tracker_store.py) finds them by index and writes each event once, ahead, and follow-ups
still find their context: in Rasa's own environment, and through the real stack."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from xiaoshen import settings
from xiaoshen.client import ChatClient
from xiaoshen.secrets import load_or_create
from xiaoshen.stack import service_env

CHECK = """
import asyncio, sys, time
from rasa.core.actions.action import ActionSessionStart
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from bot import bounded_tracker

bounded_tracker.install()
domain = Domain.load("bot/domain.yml")

def conversation(turns, at):
    tracker = DialogueStateTracker("someone", domain.slots)
    tracker.update(SessionStarted(timestamp=at))
    for turn in range(turns):
        tracker.update(ActionExecuted("action_listen", timestamp=at))
        tracker.update(UserUttered(f"question {turn}", {"name": "ask_service"}, timestamp=at))
        tracker.update(ActionExecuted("action_answer_question", timestamp=at))
        tracker.update(SlotSet("last_item_no", str(turn), timestamp=at))
    return tracker

TURNS = bounded_tracker.SESSION_EVENTS // 4 + 1  # four events a turn: just past the bound

def session_start(tracker):
    return asyncio.run(ActionSessionStart().run(None, None, tracker, domain))

long = conversation(TURNS, time.time())
assert bounded_tracker.is_long(long)
assert not bounded_tracker.is_long(conversation(2, time.time()))
sent = bounded_tracker.CurrentTurn(long).current_state(None)
assert [e["event"] for e in sent["events"]] == ["user", "action", "slot"], sent["events"]
assert sent["events"][0]["text"] == f"question {TURNS - 1}"
assert sent["slots"]["last_item_no"] == str(TURNS - 1)
assert sent["latest_message"]["text"] == sent["events"][0]["text"]

split = session_start(long)  # a long session: the next one carries the slots' values
assert isinstance(split[0], SessionStarted) and split[-1].action_name == "action_listen"
carried = {e.key: e.value for e in split if isinstance(e, SlotSet)}
assert carried == {"last_item_no": str(TURNS - 1)}, carried

idle = conversation(TURNS, time.time() - 2 * 3600)
assert not [e for e in session_start(idle) if isinstance(e, SlotSet)]  # idle: a fresh start

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from bot.tracker_store import SESSION_INDEXES, TurnTrackerStore
store = TurnTrackerStore(domain, dialect="sqlite", db=sys.argv[1])
with store.engine.connect() as db:  # opening it ran every statement, the insert rolled back
    assert db.execute(sa.text("SELECT count(*) FROM events")).scalar() == 0
asyncio.run(store.save(long))
with store.engine.connect() as db:
    assert db.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.execute(sa.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert isinstance(store.engine.pool, sa.pool.QueuePool)  # connections kept open
    names = {row[0] for row in db.execute(sa.text("SELECT name FROM sqlite_master"))}
    assert set(SESSION_INDEXES) <= names, names
    for query in (store._session_start, store._session_events):
        sql = str(query.compile(store.engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(row) for row in db.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
        assert any(name in plan for name in SESSION_INDEXES), plan
        assert "SCAN events" not in plan, plan

def stored(sender):
    with store.engine.connect() as db:
        return db.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = :s"),
                          {"s": sender}).scalar()

# Loaded, extended, saved twice: each event stored once, read back the same by Rasa's own store.
again = asyncio.run(store.retrieve("someone"))
assert len(again.events) == len(long.events)
again.update(UserUttered("one more", {"name": "ask_service"}))
asyncio.run(store.save(again))
asyncio.run(store.save(again))
assert stored("someone") == len(long.events) + 1
rasa_store = SQLTrackerStore(domain, dialect="sqlite", db=sys.argv[1])
assert ([e.as_dict() for e in asyncio.run(rasa_store.retrieve("someone")).events]
        == [e.as_dict() for e in again.events])
# A tracker the store did not load (no count kept) is saved as Rasa's store saves it.
foreign = asyncio.run(rasa_store.retrieve("someone"))
foreign.update(UserUttered("from elsewhere", {"name": "ask_service"}))
asyncio.run(store.save(foreign))
assert stored("someone") == len(long.events) + 2
# A new conversation, then a new session within it: only the new session is loaded.
fresh = asyncio.run(store.get_or_create_tracker("newcomer"))
asyncio.run(store.save(fresh))
assert stored("newcomer") == 1
fresh.update(SessionStarted(timestamp=time.time() + 1))
fresh.update(UserUttered("hello", {"name": "greet"}, timestamp=time.time() + 1))
asyncio.run(store.save(fresh))
assert stored("newcomer") == 3
assert [e.type_name for e in asyncio.run(store.retrieve("newcomer")).events] == [
    "session_started", "user"]
assert len(asyncio.run(store.retrieve_full_tracker("newcomer")).events) == 3
TurnTrackerStore(domain, dialect="sqlite", db=sys.argv[1])  # opening it again: no error
"""


def test_sessions_split_when_long_carry_the_slots_and_the_action_gets_one_turn(
        tmp_path: Path) -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK,
                             str(tmp_path / "trackers.db")], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def full_tracker(stack: str, stack_settings: settings.Settings, sender: str) -> dict:
    response = httpx.get(f"{stack}/conversations/{sender}/tracker",
                         params={"token": load_or_create(stack_settings).rasa_token,
                                 "include_events": "ALL"}, timeout=30)
    response.raise_for_status()
    return response.json()


def sessions(tracker: dict) -> list[list[dict]]:
    """The tracker's events cut at each session start."""
    cut: list[list[dict]] = [[]]
    for event in tracker["events"]:
        if event["event"] == "session_started":
            cut.append([])
        cut[-1].append(event)
    return [events for events in cut if events]


@pytest.mark.stack
def test_follow_ups_keep_their_service_over_many_sessions(stack, stack_settings) -> None:
    client = ChatClient(stack)
    follow_ups = ["那要带什么材料", "多久能到账", "收费吗", "在哪办", "网上能办吗", "要本人去吗"]
    try:
        first = client.send("公积金付房租怎么提取")
        replies = [client.send(text) for text in follow_ups * 2]
    finally:
        client.close()
    assert (first.outcome, first.item_no) == ("answered", 15)
    assert [(r.outcome, r.item_no) for r in replies] == [("answered", 15)] * len(replies)
    parts = sessions(full_tracker(stack, stack_settings, client.sender))
    assert len(parts) >= 3  # 13 turns of about nine events each
    from_rasa = [len(events) for events in parts[1:]]
    assert max(from_rasa) < 60 + 20, from_rasa  # SESSION_EVENTS, and the turn that crossed it


@pytest.mark.stack
def test_human_mode_messages_start_a_new_session_and_the_context_survives(
        stack, stack_settings) -> None:
    client = ChatClient(stack)
    token = load_or_create(stack_settings).rasa_token
    try:
        assert client.send("公积金付房租怎么提取").item_no == 15
        with httpx.Client(timeout=30) as http:
            for number in range(60):  # what the gateway records while a seat has the chat
                event = ({"event": "user", "text": f"客户的第{number}条消息",
                          "parse_data": {"intent": {}, "entities": []},
                          "input_channel": "gateway"} if number % 2 == 0
                         else {"event": "bot", "text": f"帮办的第{number}条回复"})
                http.post(f"{stack}/conversations/{client.sender}/tracker/events",
                          params={"token": token, "include_events": "NONE"},
                          json={**event, "timestamp": time.time()}).raise_for_status()
        parts = sessions(full_tracker(stack, stack_settings, client.sender))
        assert len(parts) >= 2
        follow_up = client.send("那要带什么材料")
    finally:
        client.close()
    assert (follow_up.outcome, follow_up.item_no, follow_up.payload.topic) == (
        "answered", 15, "materials")
