"""Every change of an entry is a new immutable version; the one the bot serves is a pointer
(entries.version). A change is saved as a draft, submitted for review and approved by someone
other than its author (another maintainer or a supervisor), or returned with a comment; a
rollback makes an older version's content current again, as a new version.

A save names the version it was edited from: when someone saved the entry since, the save is
refused with what changed (StaleVersion), so of two editors neither loses a change silently.
"""

from __future__ import annotations

import difflib
import json
import sqlite3
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from kb import clock
from kb.errors import EntryNotFound, KnowledgeBaseError
from kb.store import CONTENT_FIELDS, Entry, InvalidEntry, KnowledgeBase, entry_from_row

PENDING = ("draft", "in_review", "returned")
FIELD_NAMES = {"item_no": "所属事项", "topic": "主题", "department": "部门", "question": "标准问题",
               "similar_questions": "相似问法", "answer": "答复口径", "status": "状态",
               "effective_from": "生效日期", "effective_to": "失效日期"}


class Source(StrEnum):
    IMPORT = "import"
    CONSOLE = "console"
    GAP_TASK = "gap_task"
    SEAT_CANDIDATE = "seat_candidate"
    ROLLBACK = "rollback"


class Review(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Version:
    entry_id: str
    version: int
    entry: Entry  # the content this version holds
    author: str
    created_at: str
    reason: str
    source: str
    base_version: int
    review: str
    submitted_at: str | None
    reviewer: str | None
    reviewed_at: str | None
    review_comment: str | None

    def as_dict(self) -> dict[str, Any]:
        content = {name: getattr(self.entry, name) for name in CONTENT_FIELDS}
        return {"entry_id": self.entry_id, "version": self.version, **content,
                "author": self.author, "created_at": self.created_at, "reason": self.reason,
                "source": self.source, "base_version": self.base_version,
                "review": self.review, "submitted_at": self.submitted_at,
                "reviewer": self.reviewer, "reviewed_at": self.reviewed_at,
                "review_comment": self.review_comment}


def version_from_row(row: dict[str, Any]) -> Version:
    entry = entry_from_row({**row, "similar_questions": json.loads(
        row["similar_questions"] or "[]")})
    return Version(row["entry_id"], row["version"], entry, row["author"], row["created_at"],
                   row["reason"] or "", row["source"], row["base_version"] or 0,
                   row["review"], row["submitted_at"], row["reviewer"], row["reviewed_at"],
                   row["review_comment"])


def diff(before: Entry | None, after: Entry) -> list[dict[str, Any]]:
    """The fields that differ, each with its Chinese name, both values and, for text, the
    changed lines (unified diff)."""
    changes = []
    for name in CONTENT_FIELDS:
        old = getattr(before, name) if before else None
        new = getattr(after, name)
        if old == new or (not old and not new):
            continue
        lines = None
        if isinstance(new, str | list):
            lines = list(difflib.unified_diff(_lines(old), _lines(new), lineterm="", n=1))[2:]
        changes.append({"field": name, "name": FIELD_NAMES[name], "before": old,
                        "after": new, "lines": lines})
    return changes


def _lines(value: str | list[str] | None) -> list[str]:
    return value if isinstance(value, list) else (value or "").splitlines()


class StaleVersion(KnowledgeBaseError):
    """The entry was saved by someone else since the version this change was edited from."""

    def __init__(self, entry_id: str, base: int, latest: Version, changes: list[dict]) -> None:
        super().__init__(f"条目 {entry_id} 已被 {latest.author} 修改为第 {latest.version} 版"
                         f"（您编辑的是第 {base} 版），请查看差异后重新编辑")
        self.latest = latest
        self.changes = changes


class ReviewRefused(KnowledgeBaseError):
    pass


class OwnChange(ReviewRefused):
    """The author of a change may not approve it: a matter of who asks, not of its state."""


class EntryVersions:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.db = kb.db

    # -- reading --------------------------------------------------------------------------

    def history(self, entry_id: str) -> list[Version]:
        """Every version of the entry, the newest first."""
        return [version_from_row(row) for row in self.db["entry_versions"].rows_where(
            "entry_id = ?", [entry_id], order_by="version DESC")]

    def get(self, entry_id: str, version: int) -> Version:
        rows = list(self.db["entry_versions"].rows_where(
            "entry_id = ? AND version = ?", [entry_id, version]))
        if not rows:
            raise EntryNotFound(f"条目 {entry_id} 没有第 {version} 版")
        return version_from_row(rows[0])

    def latest(self, entry_id: str) -> Version | None:
        number = self.kb.latest_version(entry_id)
        return self.get(entry_id, number) if number else None

    def current(self, entry_id: str) -> Version | None:
        """The approved version the bot serves (None for an entry never approved)."""
        row = self.kb._row(entry_id)
        if row is None or not row["version"]:
            return None
        version = self.get(entry_id, row["version"])
        return version if version.review == Review.APPROVED else None

    def queue(self, department: str | None = None) -> list[Version]:
        """Changes waiting for review, the oldest first (of one department, or all)."""
        where, args = "review = 'in_review'", []
        if department:
            where += " AND department = ?"
            args.append(department)
        return [version_from_row(row) for row in self.db["entry_versions"].rows_where(
            where, args, order_by="submitted_at, id")]

    def pending(self, entry_id: str) -> Version | None:
        """The entry's unapproved latest version (a draft, in review or returned), if any."""
        latest = self.latest(entry_id)
        return latest if latest and latest.review in PENDING else None

    # -- changing -------------------------------------------------------------------------

    def save(self, entry: Entry, by: str, base_version: int, *, reason: str = "",
             source: str = Source.CONSOLE, submit: bool = False) -> Version:
        """Save a change as a new version edited from `base_version` (0 for a new entry): a
        draft, or in review with `submit`. An earlier unapproved version of it is
        superseded."""
        items = self.kb.items()
        if entry.item_no not in items:
            raise InvalidEntry(f"未知的事项编号 {entry.item_no}")
        if not entry.question.strip() or not entry.answer.strip():
            raise InvalidEntry("标准问题和答复口径都不能为空")
        entry = replace(entry, department=entry.department or items[entry.item_no].department,
                        question=entry.question.strip(), answer=entry.answer.strip())
        with self.kb.write():
            latest = self.latest(entry.entry_id)
            if (latest.version if latest else 0) != base_version:
                if latest is None:
                    raise EntryNotFound(f"没有编号为 {entry.entry_id} 的条目")
                base = self.get(entry.entry_id, base_version).entry if base_version else None
                raise StaleVersion(entry.entry_id, base_version, latest,
                                   diff(base, latest.entry))
            self.db.execute("UPDATE entry_versions SET review = 'superseded' WHERE entry_id = ? "
                            "AND review IN ('draft', 'in_review', 'returned')",
                            [entry.entry_id])
            try:
                number = self.kb.insert_version(
                    entry, author=by, source=source, reason=reason, base_version=base_version,
                    review=Review.IN_REVIEW if submit else Review.DRAFT)
            except sqlite3.IntegrityError:  # another process took the number meanwhile
                latest = self.latest(entry.entry_id)
                raise StaleVersion(entry.entry_id, base_version, latest,
                                   diff(None, latest.entry)) from None
            if self.kb._row(entry.entry_id) is None or self.current(entry.entry_id) is None:
                # A new entry exists as a draft (never served) so it can be found and listed.
                self.kb.apply_version(replace(entry, status="draft"), 0, by, None)
            return self.get(entry.entry_id, number)

    def submit(self, entry_id: str, version: int, by: str) -> Version:
        return self._review(entry_id, version, by, ("draft", "returned"), Review.IN_REVIEW,
                            reviewer=False)

    def withdraw(self, entry_id: str, version: int, by: str) -> Version:
        """The author takes a change back out of review, to edit it further."""
        return self._review(entry_id, version, by, ("in_review",), Review.DRAFT,
                            reviewer=False)

    def approve(self, entry_id: str, version: int, by: str, comment: str = "") -> Version:
        """Make the change current (the bot serves it from the next question); never by its
        author, and only when it was edited from the version now current."""
        with self.kb.write():
            change = self.get(entry_id, version)
            self._check_reviewer(change, by)
            if change.review != Review.IN_REVIEW:
                raise ReviewRefused(f"第 {version} 版不在待审核状态（{change.review}）")
            row = self.kb._row(entry_id)
            current = row["version"] if row else 0
            if change.base_version != current:
                now = self.get(entry_id, current) if current else None
                raise StaleVersion(entry_id, change.base_version, now or change,
                                   diff(change.entry, now.entry) if now else [])
            self._mark(change, Review.APPROVED, by, comment)
            if self.kb.apply_version(change.entry, version, by, row):
                self.kb.bump_revision()
            return self.get(entry_id, version)

    def return_(self, entry_id: str, version: int, by: str, comment: str) -> Version:
        """Send a change back to its author with what to fix."""
        if not comment.strip():
            raise ReviewRefused("退回需要填写意见")
        with self.kb.write():
            change = self.get(entry_id, version)
            self._check_reviewer(change, by)
            if change.review != Review.IN_REVIEW:
                raise ReviewRefused(f"第 {version} 版不在待审核状态（{change.review}）")
            self._mark(change, Review.RETURNED, by, comment.strip())
            return self.get(entry_id, version)

    def rollback(self, entry_id: str, to_version: int, by: str, reason: str) -> Version:
        """Make an older version's content current again, as a new approved version."""
        if not reason.strip():
            raise ReviewRefused("回滚需要填写原因")
        with self.kb.write():
            target = self.get(entry_id, to_version)
            if target.review not in (Review.APPROVED,):
                raise ReviewRefused(f"第 {to_version} 版从未发布，不能回滚到它")
            row = self.kb._row(entry_id)
            number = self.kb.insert_version(
                target.entry, author=by, source=Source.ROLLBACK,
                reason=f"回滚到第 {to_version} 版：{reason.strip()}",
                base_version=row["version"], review=Review.APPROVED)
            if self.kb.apply_version(target.entry, number, by, row):
                self.kb.bump_revision()
            return self.get(entry_id, number)

    def _check_reviewer(self, change: Version, by: str) -> None:
        if change.author == by:
            raise OwnChange("不能审核自己提交的修改，请由其他维护员或督导审核")

    def _review(self, entry_id: str, version: int, by: str, allowed: tuple[str, ...],
                to: Review, reviewer: bool) -> Version:
        with self.kb.write():
            change = self.get(entry_id, version)
            if change.review not in allowed:
                raise ReviewRefused(f"第 {version} 版当前为 {change.review}，不能这样操作")
            self._mark(change, to, by if reviewer else None, None)
            return self.get(entry_id, version)

    def _mark(self, change: Version, review: Review, by: str | None, comment: str | None
              ) -> None:
        now = clock.timestamp()
        fields: dict[str, Any] = {"review": review}
        if review == Review.IN_REVIEW:
            fields["submitted_at"] = now
        if by is not None:
            fields |= {"reviewer": by, "reviewed_at": now, "review_comment": comment or None}
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE entry_versions SET {sets} WHERE entry_id = ? AND version = ?",
                        [*fields.values(), change.entry_id, change.version])
