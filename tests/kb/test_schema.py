"""The schema is declared once and older files are brought up to date."""

import sqlite3

import pytest
import sqlite_utils

from kb.errors import InvalidEntry
from kb.ratings import InvalidRating, Ratings
from kb.schema import SCHEMA_VERSION, TABLES, SchemaTooNew, migrate, version
from kb.store import Entry, KnowledgeBase


def column_types(db: sqlite_utils.Database, table: str) -> dict[str, str]:
    return {column.name: column.type for column in db[table].columns}


def test_a_new_base_has_every_table_typed(memory_kb: KnowledgeBase) -> None:
    assert set(TABLES) <= set(memory_kb.db.table_names())
    assert version(memory_kb.db) == SCHEMA_VERSION
    assert column_types(memory_kb.db, "ratings")["item_no"] == "INTEGER"
    assert column_types(memory_kb.db, "gap_tasks")["due_on"] == "TEXT"
    assert column_types(memory_kb.db, "gap_tasks")["centroid"] == "BLOB"


def test_an_older_file_is_migrated(tmp_path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    # What an earlier version left: ratings guessed from the first row, no gaps table.
    old["ratings"].insert({"conversation_id": "c1", "level": 5, "item_no": "3",
                           "created_at": "2026-11-01T10:00:00+00:00"})
    old["meta"].insert({"key": "revision", "value": "7"}, pk="key")
    old.conn.close()
    kb = KnowledgeBase(path)
    assert version(kb.db) == SCHEMA_VERSION
    assert column_types(kb.db, "ratings")["item_no"] == "INTEGER"
    assert kb.db["ratings"].pks == ["id"]
    [row] = kb.db["ratings"].rows
    assert (row["id"], row["item_no"], row["level"]) == (1, 3, 5)
    assert kb.revision == 7  # kept, not reset
    assert "gap_tasks" in kb.db.table_names()


def test_version_9_misses_wait_to_be_grouped(tmp_path) -> None:
    """One row per miss became questions the grouper places (or drops as noise)."""
    path = tmp_path / "v9.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    old["gaps"].insert({"id": 1, "question": "护照怎么办理", "item_no": None,
                        "department": "市公安局", "reason": "fallback", "conversation_id": "c1",
                        "status": "open", "created_at": "2026-11-30T10:00:00+08:00",
                        "due_on": "2026-12-07"}, pk="id")
    old.execute("PRAGMA user_version = 9")
    old.conn.close()
    kb = KnowledgeBase(path)
    assert "gaps" not in kb.db.table_names()
    [question] = kb.db["gap_questions"].rows
    assert (question["text"], question["task_id"], question["asked_at"]) == (
        "护照怎么办理", None, "2026-11-30T10:00:00+08:00")


def test_migrating_twice_changes_nothing(file_kb: KnowledgeBase) -> None:
    before = {name: column_types(file_kb.db, name) for name in TABLES}
    migrate(file_kb.db)
    assert {name: column_types(file_kb.db, name) for name in TABLES} == before


def test_a_newer_file_is_refused(tmp_path) -> None:
    db = sqlite_utils.Database(tmp_path / "new.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade Xiaoshen"):
        migrate(db)


def test_a_failed_write_changes_neither_entries_nor_revision(memory_kb: KnowledgeBase) -> None:
    memory_kb.upsert_entries([Entry("03-a", 3, "签注要钱吗", "不收费。")])
    revision = memory_kb.revision
    with pytest.raises(InvalidEntry):
        memory_kb.upsert_entries([Entry("03-b", 3, "签注多久", "当场办结。"),
                                  Entry("99-x", 99, "不存在的事项", "无")])
    assert memory_kb.revision == revision
    assert [e.entry_id for e in memory_kb.entries()] == ["03-a"]


def test_ratings_are_checked_and_typed(memory_kb: KnowledgeBase) -> None:
    ratings = Ratings(memory_kb)
    ratings.record("c1", 4, item_no=15)
    with pytest.raises(InvalidRating):
        ratings.record("c1", 6)
    [row] = ratings.of_conversation("c1")
    assert (row["level"], row["item_no"]) == (4, 15)


def test_version_11_conversations_gain_the_bot_backlog(tmp_path) -> None:
    """Schema 12: messages held for the bot, and when a conversation was told it recovers."""
    path = tmp_path / "v11.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    old["conversations"].insert({"id": "c1", "mode": "bot",
                                 "created_at": "2026-12-01T10:00:00+08:00"}, pk="id")
    old.execute("PRAGMA user_version = 11")
    old.conn.close()
    kb = KnowledgeBase(path)
    assert kb.db["conversations"].get("c1")["recovering_since"] is None
    assert column_types(kb.db, "held_messages") == {
        "message_id": "INTEGER", "conversation_id": "TEXT", "held_at": "TEXT",
        "due_at": "REAL", "attempts": "INTEGER"}


def test_version_12_gap_questions_are_indexed_by_task_and_text(tmp_path) -> None:
    """Schema 13: the grouper's read of a task's phrasings is answered by one index."""
    path = tmp_path / "v12.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    old["gap_questions"].insert({"id": 1, "task_id": 3, "text": "护照怎么办理",
                                 "reason": "fallback", "asked_at": "2026-12-01T10:00:00+08:00"},
                                pk="id")
    old["gap_questions"].create_index(["task_id"])
    old.execute("PRAGMA user_version = 12")
    old.conn.close()
    kb = KnowledgeBase(path)
    assert {tuple(index.columns) for index in kb.db["gap_questions"].indexes} == {
        ("task_id", "text"), ("conversation_id",)}
    plan = " ".join(row[-1] for row in kb.db.execute(
        "EXPLAIN QUERY PLAN SELECT DISTINCT task_id, text FROM gap_questions "
        "WHERE task_id IN (3, 4)"))
    assert "COVERING INDEX" in plan, plan
    assert [row["text"] for row in kb.db["gap_questions"].rows] == ["护照怎么办理"]
