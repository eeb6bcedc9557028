"""The gap loop's share of the gateway's sweep, with a fake emit: overdue tasks told to
supervisors once, clarifications nobody chose for taken as gap questions once, waiting misses
handed to the grouper, and answered tasks closed when their entry goes live elsewhere."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handoff.gap_clock import GapClock
from handoff.protocol import GAP_OVERDUE
from kb import clock
from kb.gap_tasks import GapTasks
from kb.gaps import GapLog, Miss, MissReason
from kb.grouping import Grouper
from kb.turns import TurnLog
from tests.handoff.test_desk import make_desk


def backdate_turns(kb, seconds: float) -> None:
    earlier = (clock.now() - timedelta(seconds=seconds)).isoformat(timespec="seconds")
    kb.db.execute("UPDATE turns SET created_at = ?", [earlier])
    kb.db.conn.commit()


def test_a_left_clarification_becomes_one_gap_question(memory_kb, tmp_path) -> None:
    desk, _ = make_desk(memory_kb, tmp_path)
    nudges = []
    gaps = GapClock(GapLog(memory_kb), desk.notify, lambda: nudges.append(1), abandon_after=60,
                    every=0)
    turns = TurnLog(memory_kb)
    turns.record("left", "代开发票要什么材料", "clarify")
    turns.record("chose", "代开发票要什么材料", "clarify")
    turns.record("chose", "代开发票要什么材料", "answered", 28, "28-materials")
    turns.record("recent", "代开发票要什么材料", "clarify")
    backdate_turns(memory_kb, 120)
    turns.record("recent", "发票领用要什么材料", "clarify")  # still within the minute
    asyncio.run(gaps.sweep())
    asyncio.run(gaps.sweep())
    rows = list(memory_kb.db["gap_questions"].rows)
    assert sorted((r["conversation_id"], r["reason"]) for r in rows) == [
        ("left", "clarify_abandoned"), ("recent", "clarify_abandoned")]
    assert nudges  # the grouper was asked to place them


def test_overdue_tasks_are_told_to_supervisors_once(memory_kb, tmp_path, seed_retriever,
                                                    monkeypatch) -> None:
    desk, emitted = make_desk(memory_kb, tmp_path)
    log = GapLog(memory_kb, Grouper(memory_kb, seed_retriever.embedder).place_pending)
    log.record(Miss("公租房申请进度在哪里查", MissReason.FALLBACK, conversation_id="c1"))
    gaps = GapClock(log, desk.notify, lambda: None, abandon_after=60, every=0)
    asyncio.run(gaps.sweep())
    assert emitted.of(GAP_OVERDUE) == []
    later = clock.now() + timedelta(days=30)
    monkeypatch.setattr(clock, "now", lambda: later)
    asyncio.run(gaps.sweep())
    asyncio.run(gaps.sweep())
    [(task, room)] = emitted.of(GAP_OVERDUE)
    assert room == "supervisors"
    assert task["overdue"] and task["title"] == "公租房申请进度在哪里查"


def test_an_answered_task_closes_when_its_entry_is_published_elsewhere(
        memory_kb, tmp_path, seed_retriever) -> None:
    desk, _ = make_desk(memory_kb, tmp_path)
    log = GapLog(memory_kb, Grouper(memory_kb, seed_retriever.embedder).place_pending)
    log.record(Miss("残疾证年审在哪里办", MissReason.FALLBACK, item_no=5, conversation_id="c1"))
    tasks = GapTasks(memory_kb)
    [task] = tasks.list()
    answered = tasks.answer(task["id"], "请到街道残联办理。", "alice", task["version"])
    memory_kb.set_status(answered["entry_id"], "published", "import")  # e.g. `kb import`
    asyncio.run(GapClock(log, desk.notify, lambda: None, 60, every=0).sweep())
    assert tasks.get(task["id"])["status"] == "published"
