"""No question waits for a rebuild: the real embedder, index and classifier over a copy of the
seed base, refreshed in the background while questions are answered from the served snapshot.

The full build is held at a gate where a test must see what is served *during* it: the build
itself is the real one, only its start is timed by the test.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kb import snapshot
from kb.index import HybridIndex
from kb.io import import_seed
from kb.patch import PatchedIndex
from kb.retrieval import Retriever
from kb.snapshot import LiveSnapshot
from kb.store import Entry, KnowledgeBase
from tests.conftest import SEED

QUESTION = "居住证签注需要带哪些材料"
ENTRY = "03-materials"
WAIT = 180.0  # seconds a background step may take on a busy 2-core machine


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, stack_settings) -> Path:
    """A seed base with its snapshot built and saved once; each test works on a copy."""
    home = tmp_path_factory.mktemp("swap")
    import_seed(KnowledgeBase(home / "kb.db"), SEED)
    cache = stack_settings.index_dir.with_name("index-vectors.db")
    if cache.is_file():
        shutil.copy(cache, home / "index-vectors.db")
    return home


def copy_base(source: Path, target: Path) -> Path:
    """A consistent copy of a base file (through SQLite's backup, WAL included)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


@pytest.fixture
def retriever(built: Path, tmp_path: Path, seed_retriever) -> Retriever:
    kb = KnowledgeBase(copy_base(built / "kb.db", tmp_path / "kb.db"))
    shutil.copy(built / "index-vectors.db", tmp_path / "index-vectors.db")
    if (built / "index").is_dir():
        shutil.copytree(built / "index", tmp_path / "index")
    live = LiveSnapshot(kb, seed_retriever.embedder, "usem3", tmp_path / "index")
    live.current()  # the first load: built (once per module) or loaded
    if not (built / "index").is_dir():
        shutil.copytree(tmp_path / "index", built / "index")
    return Retriever(live, seed_retriever.embedder)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[int]]]:
    """Full builds (in their child process) start when the gate opens; the list holds the
    revision of each build started."""
    opened, started = threading.Event(), []
    real_build = LiveSnapshot._build_apart

    def held_build(live: LiveSnapshot, entries, items, others, manifest: dict) -> None:
        started.append(manifest["revision"])
        opened.wait(WAIT)
        real_build(live, entries, items, others, manifest)

    monkeypatch.setattr(LiveSnapshot, "_build_apart", held_build)
    yield opened, started
    opened.set()


def until(condition: Callable[[], object], poke: Callable[[], object]) -> None:
    """Wait for `condition`, calling `poke` (a question, say) meanwhile."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the background refresh did not finish"
        poke()
        time.sleep(0.1)


def answer(retriever: Retriever, question: str = QUESTION) -> str | None:
    decision = retriever.decision(question)
    return decision.entry.answer if decision.entry else None


def publish(kb: KnowledgeBase, wording: str, entry_id: str = ENTRY) -> Entry:
    entry = replace(kb.get(entry_id), answer=wording)
    kb.upsert_entries([entry], updated_by="测试")
    time.sleep(snapshot.CHECK_EVERY)  # the next question looks at the base again
    return entry


def test_a_question_during_a_full_rebuild_is_answered_from_the_previous_snapshot(
        retriever, gate, monkeypatch) -> None:
    opened, started = gate
    monkeypatch.setattr(snapshot, "INCREMENTAL_LIMIT", 0)  # nothing patched: a full build
    live, kb = retriever.live, retriever.kb
    before = answer(retriever)
    publish(kb, "签注材料：新口径一。")
    until(lambda: started, retriever.live.current)
    assert answer(retriever) == before  # answered now, from the previous snapshot
    assert live.building and live.key[0] < kb.revision
    opened.set()
    until(lambda: live.key[0] == kb.revision, retriever.live.current)
    assert answer(retriever) == "签注材料：新口径一。"
    assert isinstance(live.current().index, HybridIndex)


def test_the_full_build_runs_in_a_child_process(retriever, monkeypatch, tmp_path) -> None:
    # Built in a thread, a 100k-entry build held the interpreter: questions waited seconds.
    builders, real_build = tmp_path / "builders", snapshot.build_from

    def noted(*args, **kwargs) -> snapshot.Snapshot:
        with builders.open("a") as log:
            log.write(f"{os.getpid()}\n")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(snapshot, "build_from", noted)
    monkeypatch.setattr(snapshot, "INCREMENTAL_LIMIT", 0)  # nothing patched: a full build
    live, kb = retriever.live, retriever.kb
    publish(kb, "签注材料：另一个进程建的索引。")
    until(lambda: live.key[0] == kb.revision, live.current)
    assert answer(retriever) == "签注材料：另一个进程建的索引。"
    assert isinstance(live.current().index, HybridIndex)
    pids = builders.read_text().split()
    assert pids and str(os.getpid()) not in pids


def test_a_publish_is_patched_in_before_the_full_build_lands(retriever, gate) -> None:
    opened, started = gate
    live, kb = retriever.live, retriever.kb
    publish(kb, "签注材料：新口径二。")
    until(lambda: live.key[0] == kb.revision, live.current)
    assert answer(retriever) == "签注材料：新口径二。"  # live while the build is held
    assert isinstance(live.current().index, PatchedIndex)
    status = live.status()
    assert (status["live_revision"], status["building"]) == (kb.revision, True)
    opened.set()
    until(lambda: not live.building, live.current)
    assert isinstance(live.current().index, HybridIndex)
    assert answer(retriever) == "签注材料：新口径二。"
    assert started == [kb.revision]


def test_publishes_during_a_build_make_one_more_build(retriever, gate) -> None:
    opened, started = gate
    live, kb = retriever.live, retriever.kb
    publish(kb, "签注材料：第一次修改。")
    until(lambda: started, live.current)
    publish(kb, "签注材料：第二次修改。")
    fees = publish(kb, "居住证签注不收取费用（新口径）。", "03-fees")
    until(lambda: live.key[0] == kb.revision, live.current)
    assert answer(retriever) == "签注材料：第二次修改。"  # patched in, the build still held
    assert answer(retriever, "居住证签注收费吗") == fees.answer
    opened.set()
    until(lambda: not live.building, live.current)
    assert len(started) == 2  # the held build, then one more for all that came during it
    assert isinstance(live.current().index, HybridIndex)
    assert answer(retriever) == "签注材料：第二次修改。"
    assert answer(retriever, "居住证签注收费吗") == fees.answer


def test_a_retired_entry_is_patched_out(retriever, gate) -> None:
    live, kb = retriever.live, retriever.kb
    assert retriever.decision(QUESTION).entry.entry_id == ENTRY
    kb.set_status(ENTRY, "retired", updated_by="测试")
    time.sleep(snapshot.CHECK_EVERY)
    until(lambda: live.key[0] == kb.revision, live.current)
    decision = retriever.decision(QUESTION)
    assert decision.entry is None or decision.entry.entry_id != ENTRY
    assert ENTRY not in live.current().entries


def test_a_draft_is_tested_without_changing_what_is_served(retriever) -> None:
    live = retriever.live
    served = live.current()
    draft = replace(retriever.kb.get(ENTRY), answer="草稿口径：只在命中测试里看得到。")
    tested = retriever.pinned(live.with_draft(draft)).decision(QUESTION)
    assert (tested.entry.entry_id, tested.entry.answer) == (ENTRY, draft.answer)
    assert live.current() is served
    assert answer(retriever) == retriever.kb.get(ENTRY).answer


def test_an_entry_the_kept_classifier_cannot_place_is_live_with_the_full_build(
        retriever, gate) -> None:
    opened, started = gate
    live, kb = retriever.live, retriever.kb
    meal = Entry("00-meal", 0, "社区长者食堂的助餐补贴怎么申领", "向街道社区事务受理服务中心申领。",
                 ["老人在社区食堂吃饭的补贴怎么申请"])
    kb.upsert_entries([meal], updated_by="测试")
    time.sleep(snapshot.CHECK_EVERY)
    until(lambda: started, live.current)  # the patch lane has passed it to the build lane
    assert live.key[0] < kb.revision and live.building
    assert answer(retriever, meal.question) != meal.answer
    opened.set()
    until(lambda: live.key[0] == kb.revision, live.current)
    assert answer(retriever, meal.question) == meal.answer


def test_a_renamed_service_is_served_by_its_new_name_once_rebuilt(retriever) -> None:
    kb = retriever.kb
    entry = kb.get(ENTRY)
    item = kb.item(entry.item_no)
    assert retriever.items()[item.item_no] == item  # read with the snapshot, not per look
    kb.upsert_items([replace(item, name=item.name + "（新）")])
    time.sleep(snapshot.CHECK_EVERY)
    until(lambda: retriever.items()[item.item_no].name == item.name + "（新）",
          retriever.live.current)
    assert retriever.live.key[0] == kb.revision
