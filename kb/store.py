"""The knowledge-base store: services and entries in SQLite, through sqlite-utils.

Every write bumps `revision`, which the retriever compares to rebuild its index without a
server restart.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.db import NotFoundError

from kb.clock import timestamp
from kb.clock import today as shanghai_today
from kb.errors import EntryNotFound, InvalidEntry
from kb.schema import migrate

STATUSES = ("draft", "published", "retired")
REQUIRED_FIELDS = ("entry_id", "item_no", "question", "answer")


@dataclass(frozen=True)
class Item:
    """A government service (事项) the base covers; `item_no` is its stable id."""

    item_no: int
    name: str
    department: str
    audience: str = ""
    responsible_units: str = ""


@dataclass(frozen=True)
class OtherService:
    """A government service the base does not cover, with questions people ask about it.

    Knowing these lets the bot say "not covered" instead of answering the nearest service.
    """

    name: str
    department: str
    questions: tuple[str, ...] = ()


@dataclass
class Entry:
    """One answer wording (答复口径) with the questions it answers."""

    entry_id: str
    item_no: int
    question: str
    answer: str
    similar_questions: list[str] = field(default_factory=list)
    topic: str = ""
    department: str = ""
    source: str = ""
    status: str = "published"
    effective_from: str | None = None
    effective_to: str | None = None
    version: int = 1
    updated_by: str = ""
    updated_at: str = ""

    @property
    def questions(self) -> list[str]:
        """The standard question followed by its similar questions."""
        return [self.question, *self.similar_questions]

    def is_live(self, today: date) -> bool:
        """Published and within its effective dates on `today`."""
        day = today.isoformat()
        return (
            self.status == "published"
            and (not self.effective_from or self.effective_from <= day)
            and (not self.effective_to or day <= self.effective_to)
        )


def entry_from_row(row: dict[str, Any]) -> Entry:
    """Build an Entry from a loose mapping (a database row or an imported record)."""
    missing = [name for name in REQUIRED_FIELDS if row.get(name) in (None, "")]
    if missing:
        raise InvalidEntry(f"missing field(s): {', '.join(missing)}")
    similar = row.get("similar_questions") or []
    if isinstance(similar, str):
        similar = _parse_similar(similar)
    if not isinstance(similar, list) or not all(isinstance(q, str) for q in similar):
        raise InvalidEntry("similar_questions must be a list of strings")
    try:
        item_no = int(row["item_no"])
    except (TypeError, ValueError):
        raise InvalidEntry(f"item_no must be a whole number, not {row['item_no']!r}") from None
    status = row.get("status") or "published"
    if status not in STATUSES:
        raise InvalidEntry(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    for name in ("effective_from", "effective_to"):
        if row.get(name):
            try:
                date.fromisoformat(str(row[name])[:10])
            except ValueError:
                raise InvalidEntry(f"{name} must be a date like 2026-01-31") from None
    return Entry(
        entry_id=str(row["entry_id"]).strip(),
        item_no=item_no,
        question=str(row["question"]).strip(),
        answer=str(row["answer"]).strip(),
        similar_questions=[q.strip() for q in similar if q.strip()],
        topic=str(row.get("topic") or ""),
        department=str(row.get("department") or ""),
        source=str(row.get("source") or ""),
        status=status,
        effective_from=str(row["effective_from"])[:10] if row.get("effective_from") else None,
        effective_to=str(row["effective_to"])[:10] if row.get("effective_to") else None,
        version=int(row.get("version") or 1),
        updated_by=str(row.get("updated_by") or ""),
        updated_at=str(row.get("updated_at") or ""),
    )


# What a version of an entry holds; the rest (source, version, who, when) is about it.
CONTENT_FIELDS = ("item_no", "topic", "department", "question", "similar_questions", "answer",
                  "status", "effective_from", "effective_to")


def content_of(entry: Entry) -> dict[str, Any]:
    """An entry's content as a version row stores it (similar questions as JSON)."""
    content = {name: getattr(entry, name) for name in CONTENT_FIELDS}
    content["similar_questions"] = json.dumps(entry.similar_questions, ensure_ascii=False)
    return content


def _other_service(row: dict[str, Any]) -> OtherService:
    return OtherService(row["name"], row["department"], tuple(json.loads(row["questions"])))


def _parse_similar(text: str) -> list[str]:
    """Similar questions come as a JSON list, or one per line in spreadsheets."""
    text = text.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise InvalidEntry("similar_questions is not a valid JSON list") from None
    return [line for line in text.splitlines() if line.strip()]


class KnowledgeBase:
    """Services and entries in one SQLite file (or in memory when `path` is None)."""

    def __init__(self, path: str | Path | None = None) -> None:
        if path:
            # One connection shared by the action server's worker threads; SQLite serialises.
            self.db = sqlite_utils.Database(sqlite3.connect(path, check_same_thread=False))
            # WAL lets the action server read while the CLI imports.
            self.db.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL never corrupts the file; it skips an fsync per commit, which
            # was 5% of a bot turn (each turn is recorded).
            self.db.execute("PRAGMA synchronous=NORMAL")
        else:
            self.db = sqlite_utils.Database(memory=True)
        migrate(self.db)

    @property
    def path(self) -> str | None:
        """The base's file (None in memory)."""
        return self.db.execute("PRAGMA database_list").fetchone()[2] or None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A transaction that takes the write lock first (BEGIN IMMEDIATE). Another process
        writing meanwhile makes it wait its busy timeout; a plain BEGIN that reads first
        would fail at once with "database is locked" when the other one commits."""
        if self.db.conn.in_transaction:  # nested: a savepoint of the outer one
            with self.db.atomic():
                yield self.db
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.conn.commit()

    # -- revision -------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def _bump_revision(self) -> None:
        """Called inside the write's transaction: readers see the change and the new
        revision together, or neither."""
        self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'")

    # -- services -------------------------------------------------------------------------

    def upsert_items(self, items: Iterable[Item]) -> int:
        rows = [asdict(item) for item in items]
        with self.write():
            self.db["items"].upsert_all(rows, pk="item_no")
            self._bump_revision()
        return len(rows)

    def items(self) -> dict[int, Item]:
        return {row["item_no"]: Item(**row) for row in self.db["items"].rows}

    def item(self, item_no: int) -> Item | None:
        try:
            return Item(**self.db["items"].get(item_no))
        except NotFoundError:
            return None

    def upsert_other_services(self, services: Iterable[OtherService]) -> int:
        rows = [{"name": s.name, "department": s.department,
                 "questions": json.dumps(list(s.questions), ensure_ascii=False)}
                for s in services]
        with self.write():
            self.db["other_services"].upsert_all(rows, pk="name")
            self._bump_revision()
        return len(rows)

    def remove_other_services(self, keep: Iterable[str]) -> int:
        """Delete the services not named in `keep` (one moved into the base, say)."""
        names = sorted(set(keep))
        marks = ", ".join("?" * len(names)) or "NULL"
        with self.write():
            removed = self.db.execute(
                f"DELETE FROM other_services WHERE name NOT IN ({marks})", names).rowcount
            self._bump_revision()
        return removed

    def other_service(self, name: str) -> OtherService | None:
        rows = list(self.db["other_services"].rows_where("name = ?", [name]))
        return _other_service(rows[0]) if rows else None

    def other_services(self) -> list[OtherService]:
        return [_other_service(row)
                for row in self.db["other_services"].rows_where(order_by="name")]

    # -- entries --------------------------------------------------------------------------

    def upsert_entries(self, entries: Iterable[Entry], updated_by: str = "import",
                       source: str = "import", reason: str = "") -> int:
        """Write entries as new approved versions by `updated_by` (an import is a batch of
        them): each changed entry gets the next version number and becomes current; an
        unchanged one writes nothing. Only a change that touches a published entry bumps the
        revision: a draft does not make every server rebuild its index."""
        items = self.items()
        count, touches_published = 0, False
        with self.write():
            for entry in entries:
                if entry.item_no not in items:
                    raise InvalidEntry(
                        f"unknown item_no {entry.item_no} (not in the services list)")
                entry = replace(entry, department=entry.department
                                or items[entry.item_no].department)
                count += 1
                previous = self._row(entry.entry_id)
                if previous and content_of(entry_from_row(previous)) == content_of(entry):
                    continue
                version = self.insert_version(
                    entry, author=updated_by, source=source, reason=reason,
                    base_version=previous["version"] if previous else 0, review="approved")
                touches_published = self.apply_version(entry, version, updated_by, previous) \
                    or touches_published
            if touches_published:
                self._bump_revision()
        return count

    def latest_version(self, entry_id: str) -> int:
        """The highest version number of an entry (approved or not); 0 when it has none."""
        return self.db.execute("SELECT coalesce(max(version), 0) FROM entry_versions "
                               "WHERE entry_id = ?", [entry_id]).fetchone()[0]

    def insert_version(self, entry: Entry, *, author: str, source: str, reason: str,
                       base_version: int, review: str) -> int:
        """Append the next version of an entry (inside the caller's write); its number.
        The unique (entry_id, version) index refuses a concurrent writer of the same number."""
        now = timestamp()
        number = self.latest_version(entry.entry_id) + 1
        row = {**content_of(entry), "entry_id": entry.entry_id, "version": number,
               "author": author, "created_at": now, "reason": reason, "source": source,
               "base_version": base_version, "review": review}
        if review in ("in_review", "approved"):
            row["submitted_at"] = now
        if review == "approved":
            row |= {"reviewer": author, "reviewed_at": now}
        self.db["entry_versions"].insert(row)
        return number

    def apply_version(self, entry: Entry, version: int, by: str,
                      previous: dict[str, Any] | None) -> bool:
        """Make `version` (holding `entry`'s content) the entry's current one, inside the
        caller's write; whether the bot's index must change (it touches a published entry).
        """
        row = asdict(entry) | {"similar_questions": json.dumps(entry.similar_questions,
                                                               ensure_ascii=False),
                               "version": version, "updated_by": by, "updated_at": timestamp()}
        self.db["entries"].upsert(row, pk="entry_id")
        return "published" in (entry.status, previous and previous["status"])

    def bump_revision(self) -> None:
        """Tell the servers the live entries changed (inside the caller's write)."""
        self._bump_revision()

    def _row(self, entry_id: str) -> dict[str, Any] | None:
        try:
            return self.db["entries"].get(entry_id)
        except NotFoundError:
            return None

    def get(self, entry_id: str) -> Entry:
        row = self._row(entry_id)
        if row is None:
            raise EntryNotFound(f"no entry with id {entry_id!r}")
        return entry_from_row(row)

    def entries(self, status: str | None = None) -> Iterator[Entry]:
        where = "status = ?" if status else None
        args = [status] if status else None
        for row in self.db["entries"].rows_where(where, args, order_by="entry_id"):
            yield entry_from_row(row)

    def live_entries(self, today: date | None = None) -> list[Entry]:
        """Entries a citizen may be answered with today."""
        today = today or shanghai_today()
        return [entry for entry in self.entries("published") if entry.is_live(today)]

    def set_status(self, entry_id: str, status: str, updated_by: str,
                   source: str = "console", reason: str = "") -> Entry:
        entry = replace(self.get(entry_id), status=status)
        self.upsert_entries([entry], updated_by=updated_by, source=source, reason=reason)
        return self.get(entry_id)

    def stats(self) -> dict[str, Any]:
        by_status = dict(
            self.db.execute("SELECT status, count(*) FROM entries GROUP BY status").fetchall()
        )
        per_item = dict(
            self.db.execute(
                "SELECT item_no, count(*) FROM entries WHERE status = 'published' GROUP BY item_no"
            ).fetchall()
        )
        similar = self.db.execute(
            "SELECT coalesce(sum(json_array_length(similar_questions)), 0) FROM entries"
        ).fetchone()[0]
        return {
            "items": self.db["items"].count,
            "entries": self.db["entries"].count,
            "by_status": by_status,
            "similar_questions": similar,
            "items_without_entries": sorted(set(self.items()) - set(per_item)),
            "other_services": self.db["other_services"].count,
            "revision": self.revision,
        }
