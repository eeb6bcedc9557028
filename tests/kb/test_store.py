import re
import threading
import time
from datetime import date

import pytest

from kb.errors import EntryNotFound, InvalidEntry
from kb.store import Entry, KnowledgeBase, entry_from_row


def entry(entry_id: str = "03-materials", **changes) -> Entry:
    fields = {"entry_id": entry_id, "item_no": 3, "question": "居住证签注要什么材料？",
              "answer": "您好，需要身份证和居住证。", "similar_questions": ["签注带啥"]}
    return Entry(**{**fields, **changes})


def test_upsert_fills_department_and_bumps_version(memory_kb: KnowledgeBase) -> None:
    memory_kb.upsert_entries([entry()])
    stored = memory_kb.get("03-materials")
    assert stored.department == "市公安局"
    assert stored.version == 1
    memory_kb.upsert_entries([entry(answer="新口径")], updated_by="alice")
    stored = memory_kb.get("03-materials")
    assert (stored.version, stored.answer, stored.updated_by) == (2, "新口径", "alice")


def test_every_write_of_a_published_entry_bumps_the_revision(memory_kb: KnowledgeBase
                                                              ) -> None:
    before = memory_kb.revision
    memory_kb.upsert_entries([entry()])
    memory_kb.set_status("03-materials", "retired", "bob")
    assert memory_kb.revision == before + 2


def test_saving_a_draft_leaves_the_revision(memory_kb: KnowledgeBase) -> None:
    """Servers rebuild their index on a new revision: a draft changes nothing they serve."""
    before = memory_kb.revision
    memory_kb.upsert_entries([entry(status="draft")])
    memory_kb.upsert_entries([entry(status="draft", answer="改过的草稿")])
    assert memory_kb.revision == before
    memory_kb.set_status("03-materials", "published", "bob")
    assert memory_kb.revision == before + 1


def test_unknown_service_is_rejected(memory_kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidEntry, match="unknown item_no 99"):
        memory_kb.upsert_entries([entry(item_no=99)])


def test_get_unknown_entry(memory_kb: KnowledgeBase) -> None:
    with pytest.raises(EntryNotFound, match="no entry with id 'nope'"):
        memory_kb.get("nope")


@pytest.mark.parametrize(
    ("changes", "live"),
    [
        ({}, True),
        ({"status": "draft"}, False),
        ({"status": "retired"}, False),
        ({"effective_from": "2026-12-01"}, False),
        ({"effective_from": "2026-11-01"}, True),
        ({"effective_to": "2026-11-26"}, False),
    ],
)
def test_live_entries_respect_status_and_dates(memory_kb, changes, live) -> None:
    memory_kb.upsert_entries([entry(**changes)])
    ids = [e.entry_id for e in memory_kb.live_entries(date(2026, 11, 27))]
    assert (ids == ["03-materials"]) is live


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"entry_id": "x", "item_no": 3, "question": "q"}, "missing field(s): answer"),
        ({"entry_id": "x", "item_no": "three", "question": "q", "answer": "a"},
         "item_no must be a whole number"),
        ({"entry_id": "x", "item_no": 3, "question": "q", "answer": "a", "status": "live"},
         "status must be one of"),
        ({"entry_id": "x", "item_no": 3, "question": "q", "answer": "a",
          "effective_from": "next week"}, "effective_from must be a date"),
        ({"entry_id": "x", "item_no": 3, "question": "q", "answer": "a",
          "similar_questions": "[broken"}, "not a valid JSON list"),
    ],
)
def test_entry_from_row_errors(row, message) -> None:
    with pytest.raises(InvalidEntry, match=re.escape(message)):
        entry_from_row(row)


def test_similar_questions_one_per_line() -> None:
    row = {"entry_id": "x", "item_no": 3, "question": "q", "answer": "a",
           "similar_questions": "第一问\n\n第二问\n"}
    assert entry_from_row(row).similar_questions == ["第一问", "第二问"]


def test_stats(file_kb: KnowledgeBase) -> None:
    file_kb.upsert_entries([entry()])
    stats = file_kb.stats()
    assert stats["items"] == 36
    assert stats["entries"] == 1
    assert stats["similar_questions"] == 1
    assert 0 in stats["items_without_entries"]


def test_a_write_waits_for_another_process_instead_of_failing(tmp_path) -> None:
    """Two connections to one file, as two gateways: the second writer waits its turn."""
    first, second = KnowledgeBase(tmp_path / "kb.db"), KnowledgeBase(tmp_path / "kb.db")
    holding = threading.Event()

    def hold_the_lock() -> None:
        with first.write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    holding.wait()
    with second.write() as db:  # reads first, then writes: no "database is locked"
        db.execute("SELECT count(*) FROM meta").fetchone()
        db.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
    thread.join()
    assert {row["key"] for row in second.db["meta"].rows} >= {"a", "b"}
